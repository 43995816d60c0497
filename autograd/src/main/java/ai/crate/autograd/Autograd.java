package ai.crate.autograd;

/** Switches gradient recording for the current thread, and clears gradients of a model's parameters. */
public final class Autograd {
    /** Open no-grad scopes on this thread; recording is on while it is zero. */
    private static final ThreadLocal<int[]> NO_GRAD_DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    private Autograd() {}

    /**
     * Turns recording off on this thread until the returned scope closes: ops compute values but record no nodes, so
     * their results do not require grad. Scopes nest; recording resumes when the outermost one closes.
     * <pre>{@code try (var s = Autograd.noGrad()) { evaluate(model); } }</pre>
     */
    public static NoGrad noGrad() {
        NO_GRAD_DEPTH.get()[0]++;
        return new NoGrad();
    }

    /** Whether ops on this thread record nodes (false inside a {@link #noGrad()} scope). */
    public static boolean isGradEnabled() {
        return NO_GRAD_DEPTH.get()[0] == 0;
    }

    /** Clears the gradient of every parameter ({@link Variable#zeroGrad()}), e.g. before each training step. */
    public static void zeroGrad(Iterable<Variable> parameters) {
        for (Variable p : parameters) p.zeroGrad();
    }

    /** A no-grad scope; closing it twice is harmless. */
    public static final class NoGrad implements AutoCloseable {
        private final Thread owner = Thread.currentThread();
        private boolean closed;

        private NoGrad() {}

        @Override
        public void close() {
            if (closed) return;
            if (Thread.currentThread() != owner) {
                throw new IllegalStateException("noGrad scope opened on thread '" + owner.getName()
                        + "' must be closed on that thread, not '" + Thread.currentThread().getName() + "'");
            }
            closed = true;
            NO_GRAD_DEPTH.get()[0]--;
        }
    }
}
