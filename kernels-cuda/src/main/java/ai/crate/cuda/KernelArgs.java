package ai.crate.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * The parameters of one kernel launch, in the order the kernel declares them. Each is passed by value as the
 * kernel expects: a device pointer (8 bytes), a 32-bit int or float, a 64-bit int, or a struct of ints.
 */
public final class KernelArgs {
    /** A device pointer: an allocation plus a byte offset into it; a null memory passes a null pointer. */
    public record Ptr(DeviceMemory memory, long byteOffset) {}

    /** A struct of 32-bit ints passed by value (shapes and strides). */
    public record IntStruct(int[] values) {}

    private final List<Object> values = new ArrayList<>();

    public KernelArgs ptr(DeviceMemory memory, long byteOffset) {
        values.add(new Ptr(memory, byteOffset));
        return this;
    }

    public KernelArgs i32(int v) {
        values.add(v);
        return this;
    }

    public KernelArgs i64(long v) {
        values.add(v);
        return this;
    }

    public KernelArgs f32(float v) {
        values.add(v);
        return this;
    }

    public KernelArgs struct(int... v) {
        values.add(new IntStruct(v.clone()));
        return this;
    }

    /** The arguments: {@link Ptr}, {@link Integer}, {@link Long}, {@link Float} or {@link IntStruct}. */
    public List<Object> values() { return List.copyOf(values); }
}
