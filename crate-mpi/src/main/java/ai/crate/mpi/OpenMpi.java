package ai.crate.mpi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import ai.crate.model.dist.Collective;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Objects;

/**
 * {@link Collective} on Open MPI's {@code libmpi.so.40} through the JDK's Foreign Function &amp; Memory API — no Java
 * MPI jar. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are the addresses of its exported globals
 * ({@code ompi_mpi_comm_world}, …). The library is opened with RTLD_GLOBAL first, through libc's {@code dlopen}, so the
 * plugins MPI_Init loads find its symbols. Data is staged through off-heap buffers allocated once (MPI never sees
 * the Java heap, which the collector moves); calls come from one thread at a time (MPI_THREAD_SERIALIZED). Errors
 * return codes (MPI_ERRORS_RETURN), thrown as {@link MpiException} with MPI's message.
 */
public final class OpenMpi implements Collective {
    /** Debian's (Open MPI 4.x) soname. */
    public static final String LIBRARY = "libmpi.so.40";

    private static final int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;
    private static final int MPI_THREAD_SERIALIZED = 2;
    private static final int STAGING_FLOATS = 1 << 20;   // 4 MiB; larger requests go in pieces
    private static final int STAGING_DOUBLES = 1 << 12;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment comm, floatType, doubleType, sum, inPlace;
    private final MethodHandle allreduce, bcast, barrier, abort, finalizeMpi, finalized, errorString;
    private final MemorySegment floats, doubles;
    private final int rank, size;
    private final String version;
    private boolean closed;

    private OpenMpi(SymbolLookup mpi) {
        Linker linker = Linker.nativeLinker();
        comm = global(mpi, "ompi_mpi_comm_world");
        floatType = global(mpi, "ompi_mpi_float");
        doubleType = global(mpi, "ompi_mpi_double");
        sum = global(mpi, "ompi_mpi_op_sum");
        MemorySegment errorsReturn = global(mpi, "ompi_mpi_errors_return");
        inPlace = MemorySegment.ofAddress(1);   // MPI_IN_PLACE is ((void *) 1) in Open MPI
        MethodHandle initialized = function(linker, mpi, "MPI_Initialized", ADDRESS);
        MethodHandle init = function(linker, mpi, "MPI_Init_thread", ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
        MethodHandle commRank = function(linker, mpi, "MPI_Comm_rank", ADDRESS, ADDRESS);
        MethodHandle commSize = function(linker, mpi, "MPI_Comm_size", ADDRESS, ADDRESS);
        MethodHandle setErrhandler = function(linker, mpi, "MPI_Comm_set_errhandler", ADDRESS, ADDRESS);
        MethodHandle libraryVersion = function(linker, mpi, "MPI_Get_library_version", ADDRESS, ADDRESS);
        allreduce = function(linker, mpi, "MPI_Allreduce", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        bcast = function(linker, mpi, "MPI_Bcast", ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        barrier = function(linker, mpi, "MPI_Barrier", ADDRESS);
        abort = function(linker, mpi, "MPI_Abort", ADDRESS, JAVA_INT);
        finalizeMpi = function(linker, mpi, "MPI_Finalize");
        finalized = function(linker, mpi, "MPI_Finalized", ADDRESS);
        errorString = function(linker, mpi, "MPI_Error_string", JAVA_INT, ADDRESS, ADDRESS);
        floats = arena.allocate(JAVA_FLOAT, STAGING_FLOATS);
        doubles = arena.allocate(JAVA_DOUBLE, STAGING_DOUBLES);
        MemorySegment flag = arena.allocate(JAVA_INT), provided = arena.allocate(JAVA_INT);
        check("MPI_Initialized", call(initialized, flag));
        if (flag.get(JAVA_INT, 0) == 0) {
            check("MPI_Init_thread", call(init, MemorySegment.NULL, MemorySegment.NULL, MPI_THREAD_SERIALIZED,
                    provided));
            if (provided.get(JAVA_INT, 0) < MPI_THREAD_SERIALIZED) {
                throw new MpiException("MPI_Init_thread: this Open MPI provides thread level "
                        + provided.get(JAVA_INT, 0) + ", below MPI_THREAD_SERIALIZED");
            }
        }
        check("MPI_Comm_set_errhandler", call(setErrhandler, comm, errorsReturn));
        MemorySegment out = arena.allocate(JAVA_INT);
        check("MPI_Comm_rank", call(commRank, comm, out));
        rank = out.get(JAVA_INT, 0);
        check("MPI_Comm_size", call(commSize, comm, out));
        size = out.get(JAVA_INT, 0);
        MemorySegment text = arena.allocate(256), length = arena.allocate(JAVA_INT);   // MPI_MAX_LIBRARY_VERSION_STRING
        check("MPI_Get_library_version", call(libraryVersion, text, length));
        String v = text.getString(0).strip();
        version = v.contains(",") ? v.substring(0, v.indexOf(',')) : v;
    }

    /**
     * Joins the MPI job this process was started in by {@code mpirun} (a process started otherwise is a job of one).
     *
     * @throws MpiException when libmpi cannot be loaded (saying how to install it) or MPI_Init fails
     */
    public static OpenMpi init() {
        Linker linker = Linker.nativeLinker();
        MethodHandle dlopen = linker.downcallHandle(linker.defaultLookup().find("dlopen").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        MethodHandle dlerror = linker.downcallHandle(linker.defaultLookup().find("dlerror").orElseThrow(),
                FunctionDescriptor.of(ADDRESS));
        try (Arena names = Arena.ofConfined()) {
            MemorySegment handle = (MemorySegment) dlopen.invokeExact(names.allocateFrom(LIBRARY), RTLD_NOW | RTLD_GLOBAL);
            if (handle.equals(MemorySegment.NULL)) {
                MemorySegment why = (MemorySegment) dlerror.invokeExact();
                String reason = why.equals(MemorySegment.NULL) ? "unknown" : why.reinterpret(4096).getString(0);
                throw new MpiException(LIBRARY + " cannot be loaded (" + reason + "): install Open MPI (Debian: "
                        + "apt-get install openmpi-bin libopenmpi3) and start the processes with mpirun");
            }
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("dlopen(" + LIBRARY + ") failed: " + t, t);
        }
        return new OpenMpi(SymbolLookup.libraryLookup(LIBRARY, Arena.global()));
    }

    private static MemorySegment global(SymbolLookup mpi, String name) {
        return mpi.find(name).orElseThrow(() -> new MpiException(LIBRARY + " has no symbol " + name
                + ": not Open MPI 4 (the handles of other MPIs are not the addresses of globals)"));
    }

    private static MethodHandle function(Linker linker, SymbolLookup mpi, String name,
            java.lang.foreign.MemoryLayout... args) {
        MemorySegment at = mpi.find(name).orElseThrow(() -> new MpiException(LIBRARY + " has no function " + name));
        return linker.downcallHandle(at, FunctionDescriptor.of(JAVA_INT, args));
    }

    private static int call(MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (Throwable t) {
            throw new MpiException("calling " + h + ": " + t, t);
        }
    }

    private void check(String what, int code) {
        if (code == 0) return;
        String text = "error " + code;
        if (errorString != null) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment s = a.allocate(256), n = a.allocate(JAVA_INT);   // MPI_MAX_ERROR_STRING
                if (call(errorString, code, s, n) == 0) text = s.getString(0);
            }
        }
        throw new MpiException(what + " failed on rank " + rankOrUnknown() + ": " + text);
    }

    private String rankOrUnknown() { return size > 0 ? Integer.toString(rank) : "?"; }

    @Override
    public int rank() { return rank; }

    @Override
    public int size() { return size; }

    @Override
    public String describe() { return version + ", rank " + rank + " of " + size; }

    @Override
    public synchronized void allReduceSum(float[] data, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, data.length);
        open();
        for (int done = 0; done < length; done += STAGING_FLOATS) {
            int n = Math.min(STAGING_FLOATS, length - done);
            MemorySegment.copy(data, offset + done, floats, JAVA_FLOAT, 0, n);
            check("MPI_Allreduce", call(allreduce, inPlace, floats, n, floatType, sum, comm));
            MemorySegment.copy(floats, JAVA_FLOAT, 0, data, offset + done, n);
        }
    }

    @Override
    public synchronized void allReduceSum(double[] data) {
        open();
        for (int done = 0; done < data.length; done += STAGING_DOUBLES) {
            int n = Math.min(STAGING_DOUBLES, data.length - done);
            MemorySegment.copy(data, done, doubles, JAVA_DOUBLE, 0, n);
            check("MPI_Allreduce", call(allreduce, inPlace, doubles, n, doubleType, sum, comm));
            MemorySegment.copy(doubles, JAVA_DOUBLE, 0, data, done, n);
        }
    }

    @Override
    public synchronized void broadcast(float[] data, int offset, int length, int root) {
        Objects.checkFromIndexSize(offset, length, data.length);
        Objects.checkIndex(root, size);
        open();
        for (int done = 0; done < length; done += STAGING_FLOATS) {
            int n = Math.min(STAGING_FLOATS, length - done);
            MemorySegment.copy(data, offset + done, floats, JAVA_FLOAT, 0, n);
            check("MPI_Bcast", call(bcast, floats, n, floatType, root, comm));
            MemorySegment.copy(floats, JAVA_FLOAT, 0, data, offset + done, n);
        }
    }

    @Override
    public synchronized void barrier() {
        open();
        check("MPI_Barrier", call(barrier, comm));
    }

    @Override
    public void abort(int code) {
        call(abort, comm, code);   // does not return when the job has other processes
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment flag = a.allocate(JAVA_INT);
            if (call(finalized, flag) == 0 && flag.get(JAVA_INT, 0) == 0) check("MPI_Finalize", call(finalizeMpi));
        }
        arena.close();
    }

    private void open() {
        if (closed) throw new IllegalStateException("MPI is finalized: this collective is closed");
    }
}
