package ai.crate.model.io;

/**
 * The element type a tensor was stored with. Names are the safetensors dtype names; floating types read as
 * {@code float}, integer types and {@link #BOOL} as {@code long}.
 */
public enum DType {
    F64(8, true),
    F32(4, true),
    F16(2, true),
    BF16(2, true),
    I64(8, false),
    I32(4, false),
    I16(2, false),
    I8(1, false),
    U8(1, false),
    /** One byte per element, 0 or 1. */
    BOOL(1, false);

    private final int itemSize;
    private final boolean floating;

    DType(int itemSize, boolean floating) {
        this.itemSize = itemSize;
        this.floating = floating;
    }

    /** Bytes per element in the file. */
    public int itemSize() { return itemSize; }

    /** True for F64, F32, F16 and BF16, whose data is read through {@link StoredTensor#floats()}. */
    public boolean isFloating() { return floating; }

    /** The dtype called {@code name} in a safetensors header, or null when it is not one we support. */
    public static DType fromSafetensorsName(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) return t;
        }
        return null;
    }

    /** The smallest value an integer dtype holds (BOOL: 0). */
    long minValue() {
        return switch (this) {
            case I64 -> Long.MIN_VALUE;
            case I32 -> Integer.MIN_VALUE;
            case I16 -> Short.MIN_VALUE;
            case I8 -> Byte.MIN_VALUE;
            case U8, BOOL -> 0;
            default -> throw new IllegalStateException(this + " is not an integer dtype");
        };
    }

    /** The largest value an integer dtype holds (BOOL: 1). */
    long maxValue() {
        return switch (this) {
            case I64 -> Long.MAX_VALUE;
            case I32 -> Integer.MAX_VALUE;
            case I16 -> Short.MAX_VALUE;
            case I8 -> Byte.MAX_VALUE;
            case U8 -> 255;
            case BOOL -> 1;
            default -> throw new IllegalStateException(this + " is not an integer dtype");
        };
    }
}
