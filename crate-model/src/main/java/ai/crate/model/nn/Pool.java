package ai.crate.model.nn;

import java.util.Locale;

/**
 * How the classifier reads one vector per image from the final tokens: the CLS row, the mean of all rows (CRATE's
 * {@code mean}, the CLS row included) or the mean of the patch rows alone (timm's {@code avg}, prefix tokens left out).
 */
public enum Pool {
    CLS, MEAN, AVG;

    /** "cls" (or timm's "token"), "mean" or "avg", any case. */
    public static Pool parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "cls", "token" -> CLS;
            case "mean" -> MEAN;
            case "avg" -> AVG;
            default -> throw new IllegalArgumentException("pool must be 'cls' (or 'token'), 'mean' or 'avg', got '"
                    + name + "'");
        };
    }

    /** Our spelling in metadata: "cls", "mean" or "avg". */
    public String id() { return name().toLowerCase(Locale.ROOT); }
}
