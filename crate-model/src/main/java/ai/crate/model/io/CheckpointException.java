package ai.crate.model.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint file that cannot be read or written: malformed, truncated, unsupported or unsafe. The message names
 * the file, the key where there is one, and the offsets or sizes involved.
 */
public class CheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }

    /** "file.safetensors: message" — the file's name only, which is what a user recognises in a log. */
    static CheckpointException at(Path file, String message) {
        return new CheckpointException(name(file) + ": " + message);
    }

    static CheckpointException at(Path file, String message, Throwable cause) {
        return new CheckpointException(name(file) + ": " + message, cause);
    }

    static String name(Path file) {
        Path name = file.getFileName();
        return name == null ? file.toString() : name.toString();
    }
}
