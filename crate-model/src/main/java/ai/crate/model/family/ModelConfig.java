package ai.crate.model.family;

import java.util.Map;

/** The shape of a model: which architecture, and every number its factory needs. */
public interface ModelConfig {
    /** The {@link Architectures} name of the architecture ("crate", "crate-mae", ...). */
    String architecture();

    /** As checkpoint {@code __metadata__} strings: {@code format} = the architecture, then every field. */
    Map<String, String> toMetadata();
}
