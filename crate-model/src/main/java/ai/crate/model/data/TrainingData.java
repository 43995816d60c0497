package ai.crate.model.data;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a classifier was trained on, kept in its checkpoint's metadata under {@code data.} keys so that
 * {@code predict} prints class names and every command normalises inputs as training did: the data set's name, its
 * class names, the normalisation, and for a one-tree folder the split (test fraction and seed) so that {@code eval}
 * scores the same test images, and for cluttered scenes their seed.
 *
 * @param testFraction NaN unless the data set is a folder split by a fraction
 * @param sceneSeed null unless the data set is made of seeded scenes ({@link ClutteredScenes})
 */
public record TrainingData(String dataset, List<String> classes, Normalization normalization, double testFraction,
        long splitSeed, Long sceneSeed) {
    static final String DATASET = "data.dataset", CLASSES = "data.classes", MEAN = "data.mean", STD = "data.std",
            TEST_FRACTION = "data.test_fraction", SPLIT_SEED = "data.split_seed", SCENE_SEED = "data.scene_seed";

    public TrainingData {
        Objects.requireNonNull(dataset, "dataset");
        classes = List.copyOf(classes);
        Objects.requireNonNull(normalization, "normalization");
    }

    /** A data set without a split of its own making (the standard sets, a train/ + test/ folder). */
    public TrainingData(String dataset, List<String> classes, Normalization normalization) {
        this(dataset, classes, normalization, Double.NaN, 0, null);
    }

    /** A one-tree folder split by {@code testFraction} with {@code splitSeed}. */
    public TrainingData(String dataset, List<String> classes, Normalization normalization, double testFraction,
                        long splitSeed) {
        this(dataset, classes, normalization, testFraction, splitSeed, null);
    }

    /** Seeded scenes. */
    public static TrainingData scenes(String dataset, List<String> classes, Normalization normalization, long seed) {
        return new TrainingData(dataset, classes, normalization, Double.NaN, 0, seed);
    }

    public boolean hasSplit() { return !Double.isNaN(testFraction); }

    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(DATASET, dataset);
        m.put(CLASSES, new Gson().toJson(classes));
        m.put(MEAN, floats(normalization.isNone() ? null : normalization.mean()));
        m.put(STD, floats(normalization.isNone() ? null : normalization.std()));
        if (hasSplit()) {
            m.put(TEST_FRACTION, Double.toString(testFraction));
            m.put(SPLIT_SEED, Long.toString(splitSeed));
        }
        if (sceneSeed != null) m.put(SCENE_SEED, Long.toString(sceneSeed));
        return m;
    }

    /**
     * The description in {@code metadata}, or empty when it has none (a checkpoint from elsewhere or from before
     * these keys existed).
     *
     * @throws IllegalArgumentException naming the key that is malformed
     */
    public static Optional<TrainingData> fromMetadata(Map<String, String> metadata) {
        String dataset = metadata.get(DATASET);
        if (dataset == null) return Optional.empty();
        List<String> classes;
        try {
            String[] names = new Gson().fromJson(need(metadata, CLASSES), String[].class);
            if (names == null || Arrays.asList(names).contains(null)) throw new JsonParseException("not a list of names");
            classes = List.of(names);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException("metadata '" + CLASSES + "' is not a JSON list of class names: "
                    + e.getMessage(), e);
        }
        float[] mean = parseFloats(metadata, MEAN), std = parseFloats(metadata, STD);
        if ((mean == null) != (std == null)) {
            throw new IllegalArgumentException("metadata '" + MEAN + "' and '" + STD + "' must both be 'none' or both"
                    + " list values");
        }
        Normalization norm = mean == null ? Normalization.none() : new Normalization(mean, std);
        if (metadata.containsKey(SCENE_SEED)) {
            try {
                return Optional.of(scenes(dataset, classes, norm, Long.parseLong(metadata.get(SCENE_SEED))));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("metadata '" + SCENE_SEED + "': " + e.getMessage(), e);
            }
        }
        if (!metadata.containsKey(TEST_FRACTION)) return Optional.of(new TrainingData(dataset, classes, norm));
        try {
            return Optional.of(new TrainingData(dataset, classes, norm,
                    Double.parseDouble(metadata.get(TEST_FRACTION)), Long.parseLong(need(metadata, SPLIT_SEED))));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("metadata '" + TEST_FRACTION + "' / '" + SPLIT_SEED + "': "
                    + e.getMessage(), e);
        }
    }

    private static String need(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) throw new IllegalArgumentException("metadata has '" + DATASET + "' but no '" + key + "'");
        return v;
    }

    private static String floats(float[] v) {
        if (v == null) return "none";
        StringBuilder s = new StringBuilder();
        for (float f : v) s.append(s.isEmpty() ? "" : ",").append(Float.toString(f));
        return s.toString();
    }

    private static float[] parseFloats(Map<String, String> m, String key) {
        String v = need(m, key);
        if (v.equals("none")) return null;
        String[] parts = v.split(",");
        float[] out = new float[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) out[i] = Float.parseFloat(parts[i].trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("metadata '" + key + "' is not a comma-separated list of numbers: '"
                    + v + "'", e);
        }
        return out;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s, %d classes, %s%s", dataset, classes.size(), normalization,
                hasSplit() ? ", test fraction " + testFraction + " split seed " + splitSeed
                        : sceneSeed != null ? ", scene seed " + sceneSeed : "");
    }
}
