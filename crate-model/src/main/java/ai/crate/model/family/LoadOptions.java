package ai.crate.model.family;

import ai.crate.model.nn.Pool;

/**
 * What a checkpoint may not tell: the head count (never inferable from shapes), and overrides of pooling and of
 * ISTA's η and λ. Null = not given; an architecture uses those that apply to it.
 */
public record LoadOptions(Integer heads, Pool pool, Float eta, Float lambda) {
    public static LoadOptions defaults() { return new LoadOptions(null, null, null, null); }

    public static LoadOptions heads(Integer heads) { return new LoadOptions(heads, null, null, null); }
}
