package ai.crate.cuda;

import static ai.crate.cuda.CudaLaunch.THREADS;
import static ai.crate.cuda.CudaLaunch.bytes;
import static ai.crate.cuda.CudaLaunch.ceil;
import static ai.crate.cuda.CudaLaunch.mem;

import ai.crate.engine.OpChecks;
import ai.crate.engine.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One launch over many tensors: the multi-tensor kernels read a table of {addresses, lengths} uploaded per call (a
 * few KB, asynchronous), so every parameter of a model takes one launch instead of one each. Grid: (chunks,
 * tensors); at most 65535 tensors per launch.
 */
final class CudaTensorTables {
    private static final int MAX_CHUNKS = 64;
    private static final int MAX_GRID_Y = 65535;

    private final CudaBackend be;
    private final Device device;

    CudaTensorTables(CudaBackend backend, Device device) {
        this.be = backend;
        this.device = device;
    }

    /** Blocks per tensor: enough for the largest one (grid-stride beyond MAX_CHUNKS). */
    static int chunks(List<Tensor> xs) {
        long max = 1;
        for (Tensor x : xs) max = Math.max(max, x.size());
        return (int) Math.min(ceil(max, THREADS), MAX_CHUNKS);
    }

    /** The tensors in launches of at most MAX_GRID_Y (a grid's y extent). */
    static List<List<Tensor>> launchGroups(List<Tensor> xs) {
        List<List<Tensor>> groups = new ArrayList<>();
        for (int from = 0; from < xs.size(); from += MAX_GRID_Y) {
            groups.add(xs.subList(from, Math.min(xs.size(), from + MAX_GRID_Y)));
        }
        return groups;
    }

    /** Whole contiguous tensors of this backend, as the table kernels address them. */
    void requireWholeContiguous(String op, List<Tensor> xs) {
        for (Tensor x : xs) {
            OpChecks.sameBackend(op, be, x);
            OpChecks.contiguous(op, "every tensor", x);
        }
    }

    /**
     * A table of {address, length} per tensor, for the kernels reading TensorEntry / SquaresEntry; release it after
     * the launch (the pool keeps stream order).
     */
    Tensor tensorTable(List<Tensor> group) {
        long[] words = new long[2 * group.size()];
        for (int i = 0; i < group.size(); i++) {
            words[2 * i] = address(group.get(i));
            words[2 * i + 1] = group.get(i).size();
        }
        return upload(words);
    }

    /**
     * One launch of an optimizer's table kernel per MAX_GRID_Y parameters. Entry p of the table: the address of
     * parameter p in each column list (0 for a null list: no such state), its length, and decays[p]'s float bits in
     * the low half of the last word (little-endian) — the layout of the kernel's entry struct. {@code scalars} adds
     * the kernel's arguments after the table pointer.
     */
    void launchStepTable(String kernel, List<List<Tensor>> columns, float[] decays, Consumer<KernelArgs> scalars) {
        List<Tensor> ws = columns.getFirst();
        int perEntry = columns.size() + 2;
        for (int from = 0; from < ws.size(); from += MAX_GRID_Y) {
            int count = Math.min(ws.size() - from, MAX_GRID_Y);
            long[] words = new long[perEntry * count];
            for (int i = 0; i < count; i++) {
                int p = from + i, at = perEntry * i;
                for (int col = 0; col < columns.size(); col++) {
                    words[at + col] = columns.get(col) == null ? 0 : address(columns.get(col).get(p));
                }
                words[at + columns.size()] = ws.get(p).size();
                words[at + columns.size() + 1] = Float.floatToRawIntBits(decays[p]) & 0xFFFFFFFFL;
            }
            Tensor table = upload(words);
            KernelArgs args = new KernelArgs().ptr(mem(table), 0);
            scalars.accept(args);
            device.launch(kernel, Device.Dim3.of(chunks(ws.subList(from, from + count)), count),
                    Device.Dim3.of(THREADS), 0, args);
            be.release(table);
        }
    }

    /** 64-bit words for a kernel's table, uploaded asynchronously. */
    private Tensor upload(long[] words) {
        Tensor t = be.allocate(2 * words.length);   // longs in a float buffer of the same byte size
        device.upload(words, 0, mem(t), 0, words.length);
        return t;
    }

    private long address(Tensor t) { return device.address(mem(t), bytes(t)); }
}
