package ai.crate.model.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint file that cannot be read or written: malformed, truncated, unsupported or unsafe. The message names
 * the file, the key where there is one, and the offsets or sizes involved.
 */
public class CheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file; // Path is not Serializable

    public CheckpointException(String message) {
        this(null, message, null);
    }

    public CheckpointException(String message, Throwable cause) {
        this(null, message, cause);
    }

    public CheckpointException(Path file, String message, Throwable cause) {
        super(message, cause);
        this.file = file;
    }

    /** The file concerned (its full path; the message names only the file name), or null. */
    public Path file() { return file; }

    /** "file.safetensors: message" — the file's name only, which is what a user recognises in a log. */
    static CheckpointException at(Path file, String message) {
        return new CheckpointException(file, name(file) + ": " + message, null);
    }

    static CheckpointException at(Path file, String message, Throwable cause) {
        return new CheckpointException(file, name(file) + ": " + message, cause);
    }

    static String name(Path file) {
        Path name = file.getFileName();
        return name == null ? file.toString() : name.toString();
    }
}
