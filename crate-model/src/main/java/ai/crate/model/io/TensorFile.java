package ai.crate.model.io;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a checkpoint file holds: named tensors in file order, and string metadata (safetensors {@code __metadata__},
 * or the scalar fields of a PyTorch training checkpoint such as {@code epoch}).
 *
 * @param source   the file it was read from, for messages
 * @param tensors  name to tensor, in the order the file lists them; unmodifiable
 * @param metadata string to string; unmodifiable
 */
public record TensorFile(Path source, Map<String, StoredTensor> tensors, Map<String, String> metadata) {
    public TensorFile {
        // LinkedHashMap, not Map.copyOf: file order is part of the value (writers lay tensors out in this order).
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }
}
