package ai.crate.cli;

/** Numeric options checked where they are parsed, each error naming the option and the value given. */
final class OptionChecks {
    private OptionChecks() {}

    static void atLeast(String option, long value, long min) {
        if (value < min) throw new IllegalArgumentException(option + " must be >= " + min + ", got " + value);
    }

    /** {@code value} in [min, max) (or [min, max] when {@code maxIncluded}), and not NaN. */
    static void inRange(String option, double value, double min, double max, boolean maxIncluded) {
        if (!(value >= min && (maxIncluded ? value <= max : value < max))) {
            throw new IllegalArgumentException(option + " must be in [" + fmt(min) + ", " + fmt(max)
                    + (maxIncluded ? "]" : ")") + ", got " + value);
        }
    }

    private static String fmt(double v) { return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v); }
}
