/**
 * The four MNIST IDX files the browser app reads, served gzip'd as `data/<name>.gz` (by the dev
 * server, and written into the built site by scripts/vite.config.ts).
 */
export const MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] as const;

export type MnistFile = (typeof MNIST_FILES)[number];
