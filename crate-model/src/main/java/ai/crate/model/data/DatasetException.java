package ai.crate.model.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A data set that cannot be read: files missing, malformed or truncated. The message names the file by its full path
 * (MNIST and Fashion-MNIST use the same file names, so the folder matters), the byte offset where there is one, and
 * what was expected.
 */
public class DatasetException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file; // Path is not Serializable

    public DatasetException(Path file, String message, Throwable cause) {
        super(message, cause);
        this.file = file;
    }

    /** The file or folder concerned, or null. */
    public Path file() { return file; }

    /** "path: message". */
    static DatasetException at(Path file, String message) {
        return new DatasetException(file, file + ": " + message, null);
    }

    static DatasetException at(Path file, String message, Throwable cause) {
        return new DatasetException(file, file + ": " + message, cause);
    }
}
