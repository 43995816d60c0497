package ai.crate.model.family;

import java.util.LinkedHashMap;
import java.util.Map;

/** The shape of a model: which architecture, and every number its factory needs. */
public interface ModelConfig {
    /** The {@link Architectures} name of the architecture ("crate", "crate-mae", ...). */
    String architecture();

    /** As checkpoint {@code __metadata__} strings: {@code format} = the architecture, then every field. */
    Map<String, String> toMetadata();

    /** Metadata strings from alternating keys and values, in that order; a null value leaves its key out. */
    static Map<String, String> metadata(Object... keysAndValues) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            if (keysAndValues[i + 1] != null) m.put((String) keysAndValues[i], String.valueOf(keysAndValues[i + 1]));
        }
        return m;
    }
}
