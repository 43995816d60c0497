package ai.crate.cuda;

/** The device could not satisfy an allocation; the message says what was asked and what is free. */
public final class CudaOutOfMemoryException extends CudaException {
    public CudaOutOfMemoryException(String message) { super(message); }
}
