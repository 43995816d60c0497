package ai.crate.engine;

/** Elementwise functions of two arguments, with NumPy broadcasting. */
public enum BinaryOp { ADD, SUB, MUL, DIV, MAX, MIN }
