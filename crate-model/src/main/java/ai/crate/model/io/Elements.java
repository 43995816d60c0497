package ai.crate.model.io;

import java.nio.ByteBuffer;

/** Element encoding shared by the readers and the writer: one dtype's bytes to float/long and back. */
final class Elements {
    private Elements() {}

    /** bfloat16 is the top half of a float32: widening is exact. */
    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float32 to bfloat16, round to nearest even (as PyTorch rounds); NaN stays a quiet NaN. */
    static short floatToBf16(float f) {
        if (Float.isNaN(f)) return (short) 0x7FC0;
        int bits = Float.floatToRawIntBits(f);
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /** The element at {@code buf}'s position as float, advancing the position. */
    static float readFloat(ByteBuffer buf, DType dtype) {
        return switch (dtype) {
            case F32 -> buf.getFloat();
            case F64 -> (float) buf.getDouble();
            case F16 -> Float.float16ToFloat(buf.getShort());
            case BF16 -> bf16ToFloat(buf.getShort());
            default -> throw new IllegalStateException(dtype + " is not a floating dtype");
        };
    }

    /** The element at {@code buf}'s position as long, advancing the position; BOOL reads any non-zero byte as 1. */
    static long readLong(ByteBuffer buf, DType dtype) {
        return switch (dtype) {
            case I64 -> buf.getLong();
            case I32 -> buf.getInt();
            case I16 -> buf.getShort();
            case I8 -> buf.get();
            case U8 -> buf.get() & 0xFF;
            case BOOL -> buf.get() != 0 ? 1 : 0;
            default -> throw new IllegalStateException(dtype + " is not an integer dtype");
        };
    }

    /** Element {@code index} of {@code buf} (absolute, by element), as float. */
    static float floatAt(ByteBuffer buf, DType dtype, int index) {
        int at = index * dtype.itemSize();
        return switch (dtype) {
            case F32 -> buf.getFloat(at);
            case F64 -> (float) buf.getDouble(at);
            case F16 -> Float.float16ToFloat(buf.getShort(at));
            case BF16 -> bf16ToFloat(buf.getShort(at));
            default -> throw new IllegalStateException(dtype + " is not a floating dtype");
        };
    }

    /** Element {@code index} of {@code buf} (absolute, by element), as long. */
    static long longAt(ByteBuffer buf, DType dtype, int index) {
        int at = index * dtype.itemSize();
        return switch (dtype) {
            case I64 -> buf.getLong(at);
            case I32 -> buf.getInt(at);
            case I16 -> buf.getShort(at);
            case I8 -> buf.get(at);
            case U8 -> buf.get(at) & 0xFF;
            case BOOL -> buf.get(at) != 0 ? 1 : 0;
            default -> throw new IllegalStateException(dtype + " is not an integer dtype");
        };
    }

    /** Writes element {@code i} of {@code t} at {@code buf}'s position in {@code t}'s dtype. */
    static void write(StoredTensor t, int i, ByteBuffer buf) {
        switch (t.dtype()) {
            case F32 -> buf.putFloat(t.floatAt(i));
            case F64 -> buf.putDouble(t.floatAt(i));
            case F16 -> buf.putShort(Float.floatToFloat16(t.floatAt(i)));
            case BF16 -> buf.putShort(floatToBf16(t.floatAt(i)));
            case I64 -> buf.putLong(t.longAt(i));
            case I32 -> buf.putInt((int) t.longAt(i));
            case I16 -> buf.putShort((short) t.longAt(i));
            case I8, U8, BOOL -> buf.put((byte) t.longAt(i));
        }
    }
}
