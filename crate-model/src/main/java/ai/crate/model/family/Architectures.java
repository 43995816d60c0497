package ai.crate.model.family;

import ai.crate.engine.Backend;
import ai.crate.model.alpha.CrateAlphaArchitecture;
import ai.crate.model.crate.CrateArchitecture;
import ai.crate.model.io.CheckpointException;
import ai.crate.model.io.TensorFile;
import ai.crate.model.mae.CrateMaeArchitecture;
import ai.crate.model.tost.TostArchitecture;
import ai.crate.model.vit.VitArchitecture;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The registry of the family: every architecture by name, every preset by name, and which architecture a checkpoint
 * holds. The command line and the tools ask here, never a model class. A new member adds its entry to {@link #ALL}.
 */
public final class Architectures {
    private Architectures() {}

    private static final List<Architecture<?>> ALL = List.of(CrateArchitecture.INSTANCE, CrateMaeArchitecture.INSTANCE,
            VitArchitecture.INSTANCE, CrateAlphaArchitecture.INSTANCE, TostArchitecture.INSTANCE);

    private static final Map<String, ModelConfig> PRESETS = presets();

    private static Map<String, ModelConfig> presets() {
        Map<String, ModelConfig> m = new LinkedHashMap<>();
        for (Architecture<?> a : ALL) {
            a.presets().forEach((name, c) -> {
                if (m.putIfAbsent(name, c) != null) throw new IllegalStateException("preset " + name + " named twice");
            });
        }
        return m;
    }

    public static List<Architecture<?>> all() { return ALL; }

    public static Architecture<?> get(String name) {
        for (Architecture<?> a : ALL) if (a.name().equals(name)) return a;
        throw new IllegalArgumentException("unknown architecture '" + name + "'; known: " + names());
    }

    public static List<String> names() { return ALL.stream().map(Architecture::name).toList(); }

    /** A named preset of any architecture. */
    public static ModelConfig preset(String name) {
        ModelConfig c = PRESETS.get(name);
        if (c == null) throw new IllegalArgumentException("unknown preset '" + name + "'; known: " + PRESETS.keySet());
        return c;
    }

    /** A named preset that is an image classifier (e.g. for training with labels). */
    public static ClassifierConfig classifierPreset(String name) {
        ModelConfig c = preset(name);
        if (c instanceof ClassifierConfig cc) return cc;
        throw new IllegalArgumentException("preset '" + name + "' is a " + c.architecture() + ", not a classifier; "
                + "classifier presets: " + presetNames(ClassifierConfig.class));
    }

    public static Set<String> presetNames() { return PRESETS.keySet(); }

    /** Names of the presets whose configuration is a {@code type}. */
    public static List<String> presetNames(Class<? extends ModelConfig> type) {
        List<String> out = new ArrayList<>();
        PRESETS.forEach((n, c) -> { if (type.isInstance(c)) out.add(n); });
        return out;
    }

    /** The preset this configuration equals, if any (the first name, where two name one configuration). */
    public static String presetName(ModelConfig config) {
        for (var e : PRESETS.entrySet()) if (e.getValue().equals(config)) return e.getKey();
        return null;
    }

    @SuppressWarnings("unchecked")
    private static <C extends ModelConfig> Architecture<C> of(C config) {
        Architecture<?> a = get(config.architecture());
        a.cast(config);
        return (Architecture<C>) a;
    }

    /** A freshly initialised model of {@code config}'s architecture. */
    public static Model create(ModelConfig config, Backend backend, long seed) {
        return of(config).create(config, backend, seed);
    }

    /** As {@link #create(ModelConfig, Backend, long)} for a classifier configuration. */
    public static ImageClassifier createClassifier(ClassifierConfig config, Backend backend, long seed) {
        return (ImageClassifier) create(config, backend, seed);
    }

    public static long parameterCount(ModelConfig config) { return of(config).parameterCount(config); }

    public static double forwardFlopsPerImage(ModelConfig config) { return of(config).forwardFlopsPerImage(config); }

    /**
     * The architecture of the model in {@code f}: the one its metadata's {@code format} names, else the one whose
     * signature keys it holds; an error naming the architectures known and the keys looked for otherwise.
     */
    public static Architecture<?> detect(TensorFile f) throws CheckpointException {
        String file = fileName(f.source());
        String format = f.metadata().get("format");
        if (format != null) {
            for (Architecture<?> a : ALL) if (a.name().equals(format)) return a;
            throw new CheckpointException(file + ": metadata 'format' = '" + format + "' is not an architecture this "
                    + "library knows (" + String.join(", ", names()) + ")");
        }
        List<Architecture<?>> matches = new ArrayList<>();
        for (Architecture<?> a : ALL) if (f.tensors().keySet().containsAll(a.signatureKeys())) matches.add(a);
        if (matches.size() == 1) return matches.getFirst();
        StringBuilder looked = new StringBuilder();
        for (Architecture<?> a : ALL) looked.append("; ").append(a.name()).append(": ").append(a.signatureKeys());
        throw new CheckpointException(file + ": " + (matches.isEmpty() ? "the tensors are of no known architecture"
                : "the tensors fit several architectures " + matches.stream().map(Architecture::name).toList())
                + " (keys looked for" + looked + ")");
    }

    static String fileName(Path p) {
        Path n = p == null ? null : p.getFileName();
        return n == null ? String.valueOf(p) : n.toString();
    }
}
