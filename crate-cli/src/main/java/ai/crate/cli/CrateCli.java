package ai.crate.cli;

import ai.crate.model.data.DatasetException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code crate}: the command line of CRATE-Java. Run through the {@code ./crate} launcher at the repository root. */
@Command(name = "crate", mixinStandardHelpOptions = true, version = "crate 0.1.0",
        description = "CRATE white-box transformers on the JVM.",
        subcommands = {TrainCommand.class, TrainMaeCommand.class, EvalCommand.class, PredictCommand.class, MeasureCommand.class,
                SegmentCommand.class, AttentionCommand.class, ReconstructCommand.class, ProbeCommand.class,
                ForwardCommand.class, ForwardMaeCommand.class,
                DataCommand.class, ScenesCommand.class, ClaimsCommand.class, InfoCommand.class, DevicesCommand.class, BenchCommand.class,
                PlotCommand.class})
public final class CrateCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line with our error handling: a bad file or argument prints one line, not a stack trace. */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new CrateCli());
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            line.getErr().println("crate " + line.getCommandName() + ": " + message(e));
            if (Boolean.getBoolean("crate.stacktrace")) e.printStackTrace(line.getErr());
            return e instanceof DatasetException ? 3 : 2;   // 3: data missing or unreadable; the message says how to fix it
        });
        return cl;
    }

    private static String message(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.toString() : m;
    }
}
