package ai.crate.engine;

/** Reductions along one axis. */
public enum ReduceOp { SUM, MEAN, MAX }
