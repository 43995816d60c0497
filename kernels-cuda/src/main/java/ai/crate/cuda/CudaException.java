package ai.crate.cuda;

/** A CUDA failure, naming the op or kernel and the driver's result code. */
public class CudaException extends RuntimeException {
    public CudaException(String message) { super(message); }

    public CudaException(String message, Throwable cause) { super(message, cause); }
}
