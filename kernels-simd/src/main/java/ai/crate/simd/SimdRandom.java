package ai.crate.simd;

import ai.crate.engine.CounterRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The counter-based generator of {@link CounterRandom}, a lane per counter: SplitMix64's mix on long vectors, then
 * conversion to float lanes. Produces the same uniforms bit for bit, and the same normals (scalar, see
 * {@link #normal}).
 */
final class SimdRandom {
    private static final VectorSpecies<Long> LS = LongVector.SPECIES_PREFERRED;
    /** The floats land in the lower lanes of the kernels' one float species ({@link VectorMath#S}: why one). */
    private static final VectorSpecies<Float> FS = VectorMath.S;
    private static final int N = LS.length();
    private static final int CHUNK = 1 << 14;

    private SimdRandom() {}

    /** Uniform [0, 1) at counters start + stride·lane in lanes 0..N−1 (the lanes above are zero). */
    private static FloatVector uniform(long seed, long start, long stride) {
        LongVector counter = LongVector.broadcast(LS, 0L).addIndex(1).mul(stride).add(start);
        LongVector z = counter.add(1).mul(CounterRandom.GOLDEN_GAMMA).add(seed);
        z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 30)).mul(0xBF58476D1CE4E5B9L);
        z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 27)).mul(0x94D049BB133111EBL);
        z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 31));
        FloatVector f = (FloatVector) z.lanewise(VectorOperators.LSHR, 40).convertShape(VectorOperators.L2F, FS, 0);
        return f.mul(0x1.0p-24f);
    }

    static void uniform(Parallel parallel, float[] o, int oo, int n, long seed, float low, float high) {
        float range = high - low, below = Math.nextDown(high);
        chunks(parallel, n, (s, e) -> {
            for (int i = s; i < e; i += N) {
                VectorMask<Float> m = FS.indexInRange(0, Math.min(N, e - i));
                // Multiply then add, two roundings, exactly as CounterRandom.uniform(seed, i, low, high) does.
                uniform(seed, i, 1).mul(range).add(low).min(below).intoArray(o, oo + i, m);
            }
        });
    }

    /**
     * Box–Muller per element in scalar code with StrictMath's log and cos: the Vector API's lanewise LOG and COS round
     * differently once C2 compiles them (SVML) than in the interpreter, so vector normals made a model's init depend on
     * how warm the JIT was (found when CRATE's init changed after a ViT had been built in the same JVM). Bit for bit
     * {@link CounterRandom#normal}'s, in every execution mode; init-only, so the scalar speed does not matter.
     */
    static void normal(Parallel parallel, float[] o, int oo, int n, long seed, float mean, float std) {
        chunks(parallel, n, (s, e) -> {
            for (int i = s; i < e; i++) o[oo + i] = mean + std * CounterRandom.normal(seed, i);   // as the reference
        });
    }

    /** Chunks aligned to the lane count so every lane's counter is its element index. */
    private static void chunks(Parallel parallel, int n, Parallel.RangeBody body) {
        if (n < CHUNK) {
            body.run(0, n);
            return;
        }
        int parts = (n + CHUNK - 1) / CHUNK;
        parallel.forEach(parts, p -> body.run(p * CHUNK, Math.min(n, (p + 1) * CHUNK)));
    }
}
