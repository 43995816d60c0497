package ai.crate.model.nn;

import java.util.Locale;

/** How the classifier reads one vector per image from the final tokens: the CLS row, or the mean of all rows. */
public enum Pool {
    CLS, MEAN;

    /** "cls" or "mean" (any case), as the official code's {@code pool} argument. */
    public static Pool parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "cls" -> CLS;
            case "mean" -> MEAN;
            default -> throw new IllegalArgumentException("pool must be 'cls' or 'mean', got '" + name + "'");
        };
    }

    /** The official spelling: "cls" or "mean". */
    public String id() { return name().toLowerCase(Locale.ROOT); }
}
