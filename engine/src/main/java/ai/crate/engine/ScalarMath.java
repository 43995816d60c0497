package ai.crate.engine;

/** Scalar definitions of every elementwise function and its derivative, in double: the meaning of each op. */
public final class ScalarMath {
    private static final double SQRT_HALF = Math.sqrt(0.5);
    private static final double INV_SQRT_2PI = 1.0 / Math.sqrt(2.0 * Math.PI);

    private ScalarMath() {}

    /**
     * erf(x) from the everywhere-positive series erf(x) = 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)), which has no
     * cancellation; |erf(x)| rounds to 1 in double beyond |x| = 6.
     */
    public static double erf(double x) {
        double ax = Math.abs(x);
        if (ax >= 6.0) return Math.signum(x);
        double term = ax, sum = ax, x2 = ax * ax;
        for (int n = 1; n < 200 && term > 1e-17 * sum; n++) {
            term *= 2.0 * x2 / (2 * n + 1);
            sum += term;
        }
        double r = 2.0 / Math.sqrt(Math.PI) * StrictMath.exp(-x2) * sum;
        return Math.copySign(Math.min(r, 1.0), x);
    }

    /**
     * erfc(z) with relative precision everywhere: 1 − erf(z) below z = 2 (where erfc ≥ 0.0047, so the subtraction
     * loses under 3 digits of 16), and the continued fraction erfc(z) = e^(−z²)/√π · 1/(z + ½/(z + 1/(z + 3⁄2/…)))
     * above, which 60 terms resolve to double precision for z ≥ 2.
     */
    public static double erfc(double z) {
        if (z < 2.0) return 1.0 - erf(z);
        double f = z;
        for (int n = 60; n >= 1; n--) f = z + (n / 2.0) / f;
        return StrictMath.exp(-z * z) / (Math.sqrt(Math.PI) * f);
    }

    /** Φ(x), the standard normal CDF, by erfc on the negative side so the left tail keeps relative precision. */
    public static double normalCdf(double x) {
        return x < 0 ? 0.5 * erfc(-x * SQRT_HALF) : 0.5 * (1.0 + erf(x * SQRT_HALF));
    }

    public static double apply(UnaryOp op, double x) {
        return switch (op) {
            case NEG -> -x;
            case EXP -> StrictMath.exp(x);
            case LOG -> StrictMath.log(x);
            case SQRT -> Math.sqrt(x);
            case TANH -> StrictMath.tanh(x);
            case SIGMOID -> 1.0 / (1.0 + StrictMath.exp(-x));
            case ABS -> Math.abs(x);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1.0 / x;
            case RELU -> x > 0 ? x : 0.0;
            case SIGN -> Math.signum(x);
            case GELU -> x * normalCdf(x);
        };
    }

    /** d op(x) / dx. */
    public static double derivative(UnaryOp op, double x) {
        return switch (op) {
            case NEG -> -1.0;
            case EXP -> StrictMath.exp(x);
            case LOG -> 1.0 / x;
            case SQRT -> 0.5 / Math.sqrt(x);
            case TANH -> { double t = StrictMath.tanh(x); yield 1.0 - t * t; }
            case SIGMOID -> { double s = 1.0 / (1.0 + StrictMath.exp(-x)); yield s * (1.0 - s); }
            case ABS -> Math.signum(x);
            case SQUARE -> 2.0 * x;
            case RECIPROCAL -> -1.0 / (x * x);
            case RELU -> x > 0 ? 1.0 : 0.0;
            case SIGN -> 0.0;
            case GELU -> normalCdf(x) + x * INV_SQRT_2PI * StrictMath.exp(-0.5 * x * x);
        };
    }

    public static double apply(BinaryOp op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
        };
    }
}
