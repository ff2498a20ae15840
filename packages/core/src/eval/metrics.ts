/** Classification metrics of a model on a labelled split. */
export interface EvalMetrics {
  examples: number;
  classes: string[];
  /** Fraction of examples whose most probable class is the true one (first index wins ties, as NumPy's argmax). */
  top1: number;
  /** Fraction whose true class is among the `topK` most probable (`topK` = min(5, classes)). */
  top5: number;
  topK: number;
  /**
   * Mean negative log-probability of the true class, probabilities clipped to [1e-15, 1 − 1e-15] and
   * rows renormalised: scikit-learn's `log_loss`, the seed's metric.
   */
  logLoss: number;
  /** Accuracy of each true class (NaN where a class has no examples). */
  perClassAccuracy: number[];
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
}

/** Accumulates predictions batch by batch; numbers are kept in float64. */
export class MetricsAccumulator {
  private n = 0;
  private top1Hits = 0;
  private topKHits = 0;
  private logLossSum = 0;
  private readonly confusion: number[][];
  readonly topK: number;

  constructor(readonly classes: string[]) {
    this.confusion = classes.map(() => classes.map(() => 0));
    this.topK = Math.min(5, classes.length);
  }

  /** Adds `labels.length` rows of `probs` (row-major, `classes.length` per row). */
  add(probs: ArrayLike<number>, labels: ArrayLike<number>): void {
    const c = this.classes.length;
    if (probs.length !== labels.length * c) throw new Error(`metrics: ${probs.length} probabilities for ${labels.length} labels × ${c} classes`);
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i]!;
      const row = i * c;
      let argmax = 0;
      let sum = 0;
      for (let j = 0; j < c; j++) {
        const p = Math.min(Math.max(probs[row + j]!, 1e-15), 1 - 1e-15);
        sum += p;
        if (probs[row + j]! > probs[row + argmax]!) argmax = j;
      }
      const py = probs[row + y]!;
      // Rank of the true class in a stable descending sort.
      let rank = 0;
      for (let j = 0; j < c; j++) if (probs[row + j]! > py || (probs[row + j] === py && j < y)) rank++;
      this.n++;
      if (argmax === y) this.top1Hits++;
      if (rank < this.topK) this.topKHits++;
      this.logLossSum -= Math.log(Math.min(Math.max(py, 1e-15), 1 - 1e-15) / sum);
      this.confusion[y]![argmax]!++;
    }
  }

  result(): EvalMetrics {
    const n = this.n;
    return {
      examples: n,
      classes: this.classes,
      top1: n ? this.top1Hits / n : NaN,
      top5: n ? this.topKHits / n : NaN,
      topK: this.topK,
      logLoss: n ? this.logLossSum / n : NaN,
      perClassAccuracy: this.confusion.map((row, i) => {
        const total = row.reduce((a, b) => a + b, 0);
        return total ? row[i]! / total : NaN;
      }),
      confusion: this.confusion.map((r) => [...r]),
    };
  }
}
