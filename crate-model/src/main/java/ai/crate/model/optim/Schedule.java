package ai.crate.model.optim;

/** A learning rate per optimizer step (step counts from 0). */
public interface Schedule {
    float at(long step);

    /** The same rate at every step. */
    static Schedule constant(float lr) { return step -> lr; }

    /**
     * Linear warmup from lr/warmup to lr over {@code warmup} steps, then cosine decay to {@code minLr} at
     * {@code total} steps (held there after).
     */
    static Schedule warmupCosine(float lr, long warmup, long total, float minLr) {
        if (warmup < 0 || total < 1 || warmup > total) {
            throw new IllegalArgumentException("warmup " + warmup + " and total " + total + " steps: need 0 <= warmup <= total, total >= 1");
        }
        return step -> {
            if (step < warmup) return lr * (step + 1) / warmup;
            double progress = Math.min(1.0, (double) (step - warmup) / Math.max(1, total - warmup));
            return (float) (minLr + 0.5 * (lr - minLr) * (1 + StrictMath.cos(Math.PI * progress)));
        };
    }
}
