package ai.crate.model.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Replaces a file all at once: the content goes to a temporary file in the same directory, is flushed to disk, and is
 * renamed over the target. Readers see the old file or the new one, never a half-written one; a failure leaves the
 * old file as it was and removes the temporary file.
 */
final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes the new content into a channel positioned at 0. */
    @FunctionalInterface
    interface Content {
        void writeTo(FileChannel channel) throws IOException;
    }

    static void write(Path target, Content content) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        Path tmp = null;
        FileChannel channel = null;
        // Same directory, so the rename stays on one file system and can be atomic. CREATE_NEW with our own name,
        // not Files.createTempFile, so the file gets the usual permissions rather than owner-only.
        for (int attempt = 0; channel == null; attempt++) {
            String suffix = Long.toHexString(ThreadLocalRandom.current().nextLong());
            tmp = dir.resolve("." + absolute.getFileName() + "." + suffix + ".tmp");
            try {
                channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 10) throw e;
            }
        }
        try {
            try (FileChannel ch = channel) {
                content.writeTo(ch);
                ch.force(true);
            }
            Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException | Error e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        syncDirectory(dir);
    }

    /** Makes the rename itself durable. Not every platform can open a directory (Windows cannot): best effort. */
    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // The file is complete and renamed; only its survival across a power cut is less certain.
        }
    }
}
