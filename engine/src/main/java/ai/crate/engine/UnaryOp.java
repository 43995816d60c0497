package ai.crate.engine;

/** Elementwise functions of one argument. Each has a derivative, used by {@link Backend#unaryBackward}. */
public enum UnaryOp {
    NEG, EXP, LOG, SQRT, TANH, SIGMOID, ABS, SQUARE, RECIPROCAL,
    /** max(x, 0); derivative 1 for x > 0, else 0. */
    RELU,
    /** −1, 0 or 1 by the sign of x (the Lion update); derivative 0. */
    SIGN,
    /** The exact GELU, x·Φ(x) with the normal CDF (PyTorch's default, approximate='none'). */
    GELU
}
