package ai.crate.cli;

import ai.crate.model.train.Trainer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Shows training as it goes: a progress bar per epoch (loss, accuracy, images/s, ETA) on a terminal, a log line every
 * 10 seconds otherwise; a summary line per epoch either way. Also lets a Ctrl-C hook wait until the trainer has
 * written its last checkpoint.
 */
final class ProgressListener implements Trainer.Listener {
    private final PrintWriter out;
    private final long stepsPerEpoch;
    private final int epochs;
    private final boolean terminal = System.console() != null && System.console().isTerminal();
    private final CountDownLatch finished = new CountDownLatch(1);
    private ProgressBar bar;
    private int barEpoch = -1;
    private long lastLine;

    ProgressListener(PrintWriter out, long stepsPerEpoch, int epochs) {
        this.out = out;
        this.stepsPerEpoch = stepsPerEpoch;
        this.epochs = epochs;
    }

    @Override
    public void step(Trainer.StepReport r) {
        String extra = String.format(Locale.ROOT, "loss %.4f acc %.3f %.0f img/s lr %.2e", r.loss(), r.accuracy(),
                r.imagesPerSecond(), r.lr()).replace(" acc 0.000", "");
        if (terminal) {
            if (bar == null || barEpoch != r.epoch()) {
                closeBar();
                bar = new ProgressBarBuilder().setTaskName("epoch " + (r.epoch() + 1) + "/" + epochs)
                        .setInitialMax(stepsPerEpoch).setStyle(ProgressBarStyle.ASCII).continuousUpdate().build();
                barEpoch = r.epoch();
            }
            bar.stepTo(r.step() - (long) r.epoch() * stepsPerEpoch);
            bar.setExtraMessage(" " + extra);
        } else if (System.nanoTime() - lastLine > 10_000_000_000L) {
            lastLine = System.nanoTime();
            out.printf(Locale.ROOT, "epoch %d/%d step %d/%d %s elapsed %.0fs%n", r.epoch() + 1, epochs,
                    r.step() - (long) r.epoch() * stepsPerEpoch, stepsPerEpoch, extra, r.elapsedSeconds());
        }
    }

    @Override
    public void epoch(Trainer.EpochReport r) {
        closeBar();
        if (Double.isNaN(r.test().top1())) {           // an autoencoder: losses only
            out.printf(Locale.ROOT, "epoch %d/%d: train loss %.4f | test loss %.4f | %.0f img/s | %.0f s%n", r.epoch() + 1,
                    epochs, r.trainLoss(), r.test().loss(), r.imagesPerSecond(), r.elapsedSeconds());
            return;
        }
        out.printf(Locale.ROOT, "epoch %d/%d: train loss %.4f acc %.2f %% | test loss %.4f acc %.2f %% (top-5 %.2f %%)"
                        + " | %.0f img/s | %.0f s%n", r.epoch() + 1, epochs, r.trainLoss(), 100 * r.trainAccuracy(),
                r.test().loss(), 100 * r.test().top1(), 100 * r.test().top5(), r.imagesPerSecond(), r.elapsedSeconds());
    }

    @Override
    public void checkpoint(Path file) {}

    private void closeBar() {
        if (bar != null) bar.close();
        bar = null;
    }

    /** Called when the trainer has returned (checkpoint written). */
    void done() {
        closeBar();
        out.flush();
        finished.countDown();
    }

    /** For the Ctrl-C hook: waits (up to two minutes) for the trainer to write its checkpoint and return. */
    void awaitDone() {
        try {
            finished.await(2, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
