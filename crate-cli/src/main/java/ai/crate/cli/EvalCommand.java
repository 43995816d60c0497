package ai.crate.cli;

import ai.crate.engine.Backend;
import ai.crate.model.family.ImageClassifier;
import ai.crate.model.data.BatchLoader;
import ai.crate.model.data.Augmentation;
import ai.crate.model.data.ImageSource;
import ai.crate.model.data.Normalization;
import ai.crate.model.family.ClassifierConfig;
import java.io.PrintWriter;
import ai.crate.model.train.Evaluation;
import com.google.gson.GsonBuilder;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Top-1, top-5 and per-class accuracy of a checkpoint on a data set's test split. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Accuracy of a checkpoint on a test set.")
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CheckpointOptions weights;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--batch", defaultValue = "500", description = "Images per batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--json", description = "One JSON object: top1, top5, n, loss, per_class.")
    boolean json;

    @Mixin
    BackendOptions backendOptions;

    @Override
    public Integer call() throws Exception {
        OptionChecks.atLeast("--batch", batch, 1);
        Backend be = backendOptions.resolve();
        ImageClassifier model = weights.load(be);
        ClassifierConfig c = model.config();
        dataOptions.trainedOn(weights.trainingData());
        PrintWriter log = spec.commandLine().getErr();
        ImageSource test = dataOptions.load(false, c.imageSize(), c.channels(), Augmentation.none(), log);
        if (c.numClasses() != test.numClasses()) {
            throw new IllegalArgumentException(weights.checkpoint.getFileName() + " has " + c.numClasses()
                    + " classes, " + test.name() + " " + test.numClasses());
        }
        dataOptions.checkClasses(test, weights.checkpoint.getFileName().toString());
        Normalization norm = dataOptions.normalization(c.imageSize(), c.channels(), log);
        Evaluation e = Evaluation.of(model, BatchLoader.forEvaluation(test, batch, norm));
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("top1", e.top1());
        o.put("top5", e.top5());
        o.put("n", e.n());
        o.put("loss", e.loss());
        Map<String, Double> perClass = new LinkedHashMap<>();
        for (int k = 0; k < e.perClass().length; k++) perClass.put(test.className(k), e.perClass()[k]);
        o.put("per_class", perClass);
        if (json) {
            spec.commandLine().getOut().println(new GsonBuilder().serializeSpecialFloatingPointValues().create().toJson(o));
        } else {
            var out = spec.commandLine().getOut();
            out.printf(Locale.ROOT, "%s on %s (%d images): top-1 %.2f %%, top-5 %.2f %%, loss %.4f%n",
                    weights.checkpoint.getFileName(), test.name(), e.n(), 100 * e.top1(), 100 * e.top5(), e.loss());
            perClass.forEach((k, v) -> out.printf(Locale.ROOT, "  %-14s %.2f %%%n", k, 100 * v));
        }
        return 0;
    }
}
