package ai.crate.mpi;

/** MPI could not be loaded or a call failed; the message says which call, on which rank, and MPI's reason. */
public final class MpiException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public MpiException(String message) { super(message); }

    public MpiException(String message, Throwable cause) { super(message, cause); }
}
