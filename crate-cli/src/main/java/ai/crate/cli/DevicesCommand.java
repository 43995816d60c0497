package ai.crate.cli;

import ai.crate.engine.BackendProvider;
import ai.crate.engine.Backends;
import com.google.gson.GsonBuilder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Every backend found, best first, whether it can run here and why: what --device auto would pick. */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "The backends found (cuda, simd, reference), whether each can run here and why; the first "
                + "available one is what --device auto uses.")
final class DevicesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "One JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() {
        Map<String, Map<String, Object>> out = new LinkedHashMap<>();
        for (Map.Entry<String, BackendProvider.Probe> e : Backends.probes().entrySet()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("available", e.getValue().available());
            row.put("reason", e.getValue().reason());
            out.put(e.getKey(), row);
        }
        if (json) {
            spec.commandLine().getOut().println(new GsonBuilder().create().toJson(out));
        } else {
            out.forEach((name, row) -> spec.commandLine().getOut().printf("%-10s %-12s %s%n", name,
                    (Boolean) row.get("available") ? "available" : "unavailable", row.get("reason")));
        }
        return 0;
    }
}
