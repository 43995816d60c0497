package ai.crate.model.family;

import ai.crate.autograd.Variable;
import ai.crate.engine.Backend;
import ai.crate.engine.Tensor;
import ai.crate.model.nn.Block;
import ai.crate.model.nn.ClassToken;
import ai.crate.model.nn.ClassifierHead;
import ai.crate.model.nn.Module;
import ai.crate.model.nn.Positions;
import ai.crate.model.nn.Stem;
import ai.crate.model.nn.Taps;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The skeleton every classifier of the family shares: stem → [CLS; patches] → positions → blocks → head (pooling,
 * norm, linear). An architecture is a subclass whose constructor makes the parts and registers them, in state_dict
 * order and under the official names, with the protected methods below. There is one forward: training records the
 * tape; {@link #inference()} runs the same modules inside a no-grad scope, where each takes its tape-free path and
 * hands its intermediates back as soon as they are consumed.
 */
public abstract class ImageClassifier extends Model {
    private Stem stem;
    private ClassToken classToken;
    private Positions positions;
    private final List<Block> blocks = new ArrayList<>();
    private ClassifierHead head;
    private boolean keepAttention = true;

    protected ImageClassifier(Backend backend) { super(backend); }

    @Override
    public abstract ClassifierConfig config();

    protected final <T extends Stem> T stem(String name, T part) {
        stem = register(name, part);
        return part;
    }

    protected final ClassToken classToken(ClassToken part) { return classToken = inline(part); }

    protected final Positions positions(Positions part) { return positions = inline(part); }

    protected final Block block(String name, Block part) {
        blocks.add(register(name, part));
        return part;
    }

    protected final ClassifierHead head(String name, ClassifierHead part) { return head = register(name, part); }

    private <T extends Module> T register(String name, T part) { return name.isEmpty() ? inline(part) : child(name, part); }

    public List<Block> blocks() { return Collections.unmodifiableList(blocks); }

    public Stem stem() { return stem; }

    public ClassifierHead head() { return head; }

    /**
     * Whether training keeps each attention layer's maps (B·H·N² floats per layer) for the backward instead of
     * recomputing them there. On by default: see BENCHMARKS.md for the measured trade.
     */
    public void setKeepAttention(boolean keep) { this.keepAttention = keep; }

    /** Logits [B, classes] for images [B, C, H, W]; records the tape when gradients are enabled. */
    public Variable forward(Tensor images) { return classify(features(images, Taps.training(keepAttention))); }

    /** The final tokens [B, N, d] (CLS first); {@code taps} says what else to keep. */
    public Variable features(Tensor images, Taps taps) {
        Variable z = stem.forward(images);
        if (classToken != null) z = replace(z, classToken.prepend(z));
        if (positions != null) z = replace(z, positions.apply(z));
        for (Block block : blocks) {
            z = replace(z, block.forward(z, taps));
            taps.layerDone(z);
        }
        return z;
    }

    /** The head: logits [B, classes] from the final tokens. */
    public Variable classify(Variable tokens) { return head.forward(tokens); }

    /**
     * Per layer and head a map over the patches, what the segmentation tools threshold: [B, H, patches] per layer,
     * with the rule that made it. By default the CLS token's attention over the patches in each layer (CRATE, ViT,
     * CRATE-α); a member without such attention says what it gives instead (ToST: the membership Π).
     */
    public HeadMaps headMaps(Tensor images) { return headMaps(images, null); }

    /** As {@link #headMaps(Tensor)}, showing each block to {@code probe} (or null) in the same pass. */
    public HeadMaps headMaps(Tensor images, Taps.LayerProbe probe) {
        ClassifierInference.Output out = inference().forward(images, true, probe);
        backend().release(out.logits());
        backend().release(out.tokens());
        List<Tensor> maps = new ArrayList<>();
        List<String> layers = new ArrayList<>();
        for (Tensor attn : out.attention()) {
            int b = attn.dim(0), h = attn.dim(1), n = attn.dim(2);
            // row 0 (the CLS token's attention), columns 1.. (the patches): a strided view, copied dense
            maps.add(attn.slice(2, 0, 1).slice(3, 1, n).contiguous().reshape(b, h, n - 1));
            backend().release(attn);
            layers.add("layer " + (layers.size() + 1));
        }
        return new HeadMaps("the CLS token's attention over the patches", maps, layers);
    }

    /** Per-layer head maps [B, H, patches], a name per layer, and the rule that made them. */
    public record HeadMaps(String rule, List<Tensor> maps, List<String> layers) {}

    /** The tape-free inference path for the current weights. */
    public ClassifierInference inference() { return new ClassifierInference(this); }

    private static Variable replace(Variable consumed, Variable next) {
        consumed.discard();
        return next;
    }
}
