package ai.crate.bench;

/** Benchmark shape strings: "BxMxKxN", or "MxKxN" for batch 1. */
final class Shapes {
    private Shapes() {}

    static int[] parse(String shape) {
        String[] parts = shape.trim().split("x");
        if (parts.length != 3 && parts.length != 4) {
            throw new IllegalArgumentException("shape '" + shape + "' is not BxMxKxN or MxKxN");
        }
        int[] d = new int[4];
        d[0] = 1;
        for (int i = 0; i < parts.length; i++) {
            try {
                d[i + 4 - parts.length] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("shape '" + shape + "': '" + parts[i] + "' is not a number");
            }
        }
        return d;
    }
}
