package ai.crate.model.io;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleException;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Unpickler;

/**
 * Unpickles a {@code torch.save} archive's {@code data.pkl} without running anything from the file.
 *
 * <p>A pickle names the callables it wants called ({@code GLOBAL}); Python's unpickler imports and calls them, which
 * is how a malicious {@code .pth} runs {@code os.system}. Here every global resolves through {@link #resolve}, an
 * allow-list of the few constructors a state_dict, an optimizer and a scheduler state need, each implemented in Java;
 * any other global is an error before anything is built. razorvine's own registry of constructors (global and
 * static) is never consulted. Tensors come out as {@link TensorRef}s pointing into storages; nothing is read from
 * the storages here.
 *
 * <p>Opcodes with a length prefix are checked against the bytes left before razorvine allocates, so a corrupt length
 * cannot exhaust memory; dicts are insertion-ordered so a state_dict keeps its order.
 */
final class TorchUnpickler extends Unpickler {
    /** A storage named by a persistent id: entry {@code data/<key>} of the archive, {@code numel} elements. */
    record StorageRef(String key, DType dtype, long numel) {}

    /** A tensor as {@code _rebuild_tensor_v2} describes it: a strided view of a storage. */
    record TensorRef(StorageRef storage, long offset, int[] size, long[] stride) {}

    /** The value a {@code torch.XStorage} global stands for inside a persistent id. */
    private record StorageType(String name, DType dtype) implements IObjectConstructor {
        @Override
        public Object construct(Object[] args) {
            throw new PickleException("calling " + name + " is not supported (storages come from persistent ids)");
        }
    }

    private final Path file;
    private final String entryName;
    private final ByteArrayInputStream in;
    private final Map<String, StorageRef> storages = new HashMap<>();

    private TorchUnpickler(Path file, String entryName, byte[] pickle) {
        this.file = file;
        this.entryName = entryName;
        this.in = new ByteArrayInputStream(pickle);
    }

    /** The object {@code data.pkl} holds; maps are {@link LinkedHashMap}s, tuples {@code Object[]}. */
    static Object load(Path file, String entryName, byte[] pickle) throws CheckpointException {
        TorchUnpickler u = new TorchUnpickler(file, entryName, pickle);
        try {
            return u.load(u.in);
        } catch (CheckpointException e) {
            throw e; // a refusal from dispatch, already worded (razorvine passes IOExceptions through)
        } catch (IOException | RuntimeException e) {
            // PickleException, ClassCastException on a mistyped stack, IndexOutOfBounds on an empty one, EOF, ...
            String why = e instanceof PickleException ? e.getMessage() : e.toString(); // ours are worded already
            throw CheckpointException.at(file, entryName + ": malformed pickle: " + why, e);
        } finally {
            u.close();
        }
    }

    @Override
    protected Object dispatch(short key) throws PickleException, IOException {
        switch (key) {
            case Opcodes.GLOBAL -> {
                String module = PickleUtils.readline(in);
                String name = PickleUtils.readline(in);
                stack.add(resolve(module, name));
                return NO_RETURN_VALUE;
            }
            case Opcodes.STACK_GLOBAL -> {
                Object name = stack.pop();
                Object module = stack.pop();
                if (!(module instanceof String m) || !(name instanceof String n)) {
                    throw refused("STACK_GLOBAL with non-string module or name");
                }
                stack.add(resolve(m, n));
                return NO_RETURN_VALUE;
            }
            // INST and OBJ build instances of arbitrary classes; EXT* name globals through a registry; PERSID is the
            // text persistent id torch.save never writes. None occurs in a state_dict.
            case Opcodes.INST, Opcodes.OBJ, Opcodes.EXT1, Opcodes.EXT2, Opcodes.EXT4, Opcodes.PERSID,
                    Opcodes.NEWOBJ_EX, Opcodes.NEXT_BUFFER, Opcodes.READONLY_BUFFER -> {
                throw refused("pickle opcode 0x" + Integer.toHexString(key) + " is not supported");
            }
            case Opcodes.BUILD -> {
                Object state = stack.pop();
                Object target = stack.peek();
                // state_dicts carry a _metadata attribute (module versions); instance state of a dict means nothing
                // to us, and no other object we build takes state.
                if (!(target instanceof Map)) {
                    throw refused("BUILD (setting object state) on " + typeName(target) + " is not supported");
                }
                return NO_RETURN_VALUE;
            }
            case Opcodes.EMPTY_DICT -> {
                stack.add(new LinkedHashMap<>());
                return NO_RETURN_VALUE;
            }
            case Opcodes.DICT -> {
                Map<Object, Object> map = new LinkedHashMap<>();
                putPairs(map, stack.pop_all_since_marker());
                stack.add(map);
                return NO_RETURN_VALUE;
            }
            case Opcodes.SETITEMS -> {
                // razorvine collects the pairs in a HashMap first, which loses the state_dict's order.
                List<Object> items = stack.pop_all_since_marker();
                putPairs(targetMap(), items);
                return NO_RETURN_VALUE;
            }
            case Opcodes.SETITEM -> {
                Object value = stack.pop();
                Object k = stack.pop();
                targetMap().put(hashable(k), value);
                return NO_RETURN_VALUE;
            }
            // Sets become lists: Java would hash their elements, and hashing a nested or self-containing list
            // recurses without bound. No state_dict holds a set; this only keeps odd files from crashing us.
            case Opcodes.EMPTY_SET -> {
                stack.add(new ArrayList<>());
                return NO_RETURN_VALUE;
            }
            case Opcodes.ADDITEMS -> {
                List<Object> items = stack.pop_all_since_marker();
                if (!(stack.peek() instanceof List<?>)) throw refused("ADDITEMS on " + typeName(stack.peek()));
                @SuppressWarnings("unchecked")
                List<Object> set = (List<Object>) stack.peek();
                set.addAll(items);
                return NO_RETURN_VALUE;
            }
            case Opcodes.FROZENSET -> {
                stack.add(new ArrayList<>(stack.pop_all_since_marker()));
                return NO_RETURN_VALUE;
            }
            case Opcodes.BINSTRING, Opcodes.BINBYTES, Opcodes.BINUNICODE, Opcodes.LONG4 -> checkLength(key, 4);
            case Opcodes.BINUNICODE8, Opcodes.BINBYTES8, Opcodes.BYTEARRAY8 -> checkLength(key, 8);
            default -> { }
        }
        return super.dispatch(key);
    }

    /** Fails unless the little-endian length that follows fits in the bytes left; leaves the stream where it was. */
    private void checkLength(short opcode, int lengthBytes) throws CheckpointException {
        in.mark(lengthBytes);
        long length = 0;
        for (int i = 0; i < lengthBytes; i++) {
            int b = in.read();
            if (b < 0) throw refused("pickle ends inside the length of opcode 0x" + Integer.toHexString(opcode));
            length |= (long) b << (8 * i);
        }
        if (lengthBytes == 4) length = (int) length; // 4-byte lengths are signed in the pickle format
        int left = in.available();
        in.reset();
        if (length < 0 || length > left) {
            throw refused("opcode 0x" + Integer.toHexString(opcode) + " declares " + length + " bytes but only "
                    + left + " are left in the pickle");
        }
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> targetMap() throws CheckpointException {
        Object target = stack.peek();
        if (!(target instanceof Map)) throw refused("SETITEM on " + typeName(target) + ", not a dict");
        return (Map<Object, Object>) target;
    }

    private void putPairs(Map<Object, Object> map, List<Object> items) throws CheckpointException {
        if (items.size() % 2 != 0) throw refused("dict items of odd length " + items.size());
        for (int i = 0; i < items.size(); i += 2) map.put(hashable(items.get(i)), items.get(i + 1));
    }

    /**
     * The key itself when Python could hash it too. Lists and dicts cannot be keys in Python, and hashing one in Java
     * recurses through its contents (without end when it contains itself).
     */
    private Object hashable(Object key) throws CheckpointException {
        if (key instanceof List || key instanceof Map) throw refused("dict key of type " + typeName(key));
        return key;
    }

    /** The allow-list: the Java stand-in for {@code module.name}, or an error naming the global. */
    private Object resolve(String module, String name) throws CheckpointException {
        String global = module + "." + name;
        if (module.equals("torch") && name.endsWith("Storage")) {
            DType dtype = storageDType(name);
            if (dtype == null) {
                throw refused("storage type '" + global + "' is not supported (supported: float64, float32, float16, "
                        + "bfloat16, int64, int32, int16, int8, uint8, bool)");
            }
            return new StorageType(global, dtype);
        }
        return switch (global) {
            case "collections.OrderedDict" -> (IObjectConstructor) args -> newOrderedDict(args);
            case "torch._utils._rebuild_tensor_v2" -> (IObjectConstructor) this::rebuildTensor;
            // A Parameter saved directly: (data, requires_grad, backward_hooks[, state]); the data is the tensor.
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" ->
                    (IObjectConstructor) args -> {
                        if (args.length < 3 || !(args[0] instanceof TensorRef t)) {
                            throw new PickleException(global + " called with " + describe(args));
                        }
                        return t;
                    };
            default -> throw refused("global '" + global + "' is not allowed: only the constructors a state_dict "
                    + "needs are (nothing was called)");
        };
    }

    private static DType storageDType(String name) {
        return switch (name) {
            case "DoubleStorage" -> DType.F64;
            case "FloatStorage" -> DType.F32;
            case "HalfStorage" -> DType.F16;
            case "BFloat16Storage" -> DType.BF16;
            case "LongStorage" -> DType.I64;
            case "IntStorage" -> DType.I32;
            case "ShortStorage" -> DType.I16;
            case "CharStorage" -> DType.I8;
            case "ByteStorage" -> DType.U8;
            case "BoolStorage" -> DType.BOOL;
            default -> null;
        };
    }

    private static Object newOrderedDict(Object[] args) {
        // OrderedDict pickles as OrderedDict() followed by SETITEMS; a list of pairs is the other form.
        Map<Object, Object> map = new LinkedHashMap<>();
        if (args.length == 0) return map;
        if (args.length == 1 && args[0] instanceof List<?> pairs) {
            for (Object p : pairs) {
                if (!(p instanceof Object[] kv) || kv.length != 2) {
                    throw new PickleException("collections.OrderedDict called with a list item that is not a pair");
                }
                map.put(kv[0], kv[1]);
            }
            return map;
        }
        throw new PickleException("collections.OrderedDict called with " + describe(args));
    }

    /** {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])}. */
    private Object rebuildTensor(Object[] args) {
        if (args.length < 4 || !(args[0] instanceof StorageRef storage) || !(args[1] instanceof Number offset)
                || !(args[2] instanceof Object[] size) || !(args[3] instanceof Object[] stride)
                || size.length != stride.length) {
            throw new PickleException("torch._utils._rebuild_tensor_v2 called with " + describe(args));
        }
        int[] sizes = new int[size.length];
        long[] strides = new long[stride.length];
        for (int i = 0; i < size.length; i++) {
            long s = integer(size[i], "size");
            if (s < 0 || s > Integer.MAX_VALUE) throw new PickleException("tensor size " + describe(size));
            sizes[i] = (int) s;
            strides[i] = integer(stride[i], "stride");
        }
        return new TensorRef(storage, integer(offset, "storage_offset"), sizes, strides);
    }

    /**
     * {@code ('storage', torch.XStorage, key, location, numel)}: one storage of the archive. Every tensor on the same
     * storage gets the same {@link StorageRef}.
     */
    @Override
    protected Object persistentLoad(Object pid) {
        if (!(pid instanceof Object[] t) || t.length != 5 || !"storage".equals(t[0])
                || !(t[1] instanceof StorageType type) || !(t[2] instanceof String key) || !(t[4] instanceof Number)) {
            throw new PickleException("unsupported persistent id " + describe(pid));
        }
        long numel = integer(t[4], "storage numel");
        if (numel < 0) throw new PickleException("storage '" + key + "' has negative size " + numel);
        StorageRef ref = new StorageRef(key, type.dtype(), numel);
        StorageRef seen = storages.putIfAbsent(key, ref);
        if (seen != null && !seen.equals(ref)) {
            throw new PickleException("storage '" + key + "' is named twice, as " + seen.dtype() + "[" + seen.numel()
                    + "] and " + ref.dtype() + "[" + ref.numel() + "]");
        }
        return seen != null ? seen : ref;
    }

    private static long integer(Object o, String what) {
        if (o instanceof Integer || o instanceof Long || o instanceof Short || o instanceof Byte) {
            return ((Number) o).longValue();
        }
        throw new PickleException(what + " is " + describe(o) + ", not an integer");
    }

    private CheckpointException refused(String message) {
        return CheckpointException.at(file, entryName + ": " + message);
    }

    /** A pickled value's type in Python's words where it has one. */
    private static String typeName(Object o) {
        if (o == null) return "None";
        if (o instanceof List) return "list";
        if (o instanceof Map) return "dict";
        if (o instanceof Object[]) return "tuple";
        return o.getClass().getSimpleName();
    }

    /** A short Python-like rendering of a pickled value, for messages (long tuples are cut). */
    private static String describe(Object o) {
        String text = describe(o, 0);
        return text.length() <= 200 ? text : text.substring(0, 200) + "...";
    }

    private static String describe(Object o, int depth) {
        if (o instanceof Object[] a) {
            if (depth >= 4) return "(...)"; // a pickle can nest tuples a million deep in a megabyte
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < a.length && sb.length() <= 200; i++) {
                sb.append(i > 0 ? ", " : "").append(describe(a[i], depth + 1));
            }
            return sb.append(a.length == 1 ? ",)" : ")").toString(); // (x,) as Python writes a 1-tuple
        }
        if (o instanceof StorageRef s) return "storage '" + s.key() + "'";
        if (o instanceof TensorRef t) return "tensor" + Arrays.toString(t.size());
        if (o instanceof String s) return "'" + s + "'";
        if (o == null) return "None";
        if (o instanceof Number || o instanceof Boolean) return o.toString();
        return typeName(o);
    }
}
