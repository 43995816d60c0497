package ai.crate.cuda;

/** One device allocation, owned by the {@link Device} that made it. */
public interface DeviceMemory {
    /** Its size in bytes. */
    long bytes();
}
