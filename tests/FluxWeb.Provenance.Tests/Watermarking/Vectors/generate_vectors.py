"""Regenerates the dwtDct reference vectors with the public imwatermark 0.2.0 package.

Requires: imwatermark==0.2.0, opencv-python, PyWavelets, numpy. Not run by the tests: its outputs are
committed beside it and the C# tests compare against them byte for byte.
"""
import sys
import numpy as np
import cv2
from imwatermark import WatermarkEncoder, WatermarkDecoder

FLUX_BITS = '1010101111111010000111100111001111010100101110'  # FLUX reference payload via bin()[2:]
SDXL_BITS = format(0xB3EC907BB19E, '048b')
FLUXWEB_BITS = '0001110010100110111101010010110000000000000000000011000000111001'  # an example 64-bit FluxWeb payload


def texture(height, width, seed):
    """Smooth colour gradients plus mild noise: PNG-friendly, no channel near 0 or 255 in U."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    b = 110 + 60 * np.sin(x / 23.0) * np.cos(y / 31.0)
    g = 120 + 70 * np.sin((x + y) / 41.0)
    r = 130 + 50 * np.cos(x / 17.0 - y / 29.0)
    img = np.stack([b, g, r], axis=-1) + rng.normal(0, 6, (height, width, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def encode(bgr, bits):
    encoder = WatermarkEncoder()
    encoder.set_watermark('bits', [int(c) for c in bits])
    return encoder.encode(bgr, 'dwtDct')


def decode(bgr, length):
    return ''.join(str(int(b)) for b in WatermarkDecoder('bits', length).decode(bgr, 'dwtDct'))


cases = [
    ('a', texture(256, 256, 1), FLUX_BITS),
    ('b', texture(262, 330, 2), FLUXWEB_BITS),
    ('c', texture(300, 288, 3), SDXL_BITS),
]
for name, bgr, bits in cases:
    cv2.imwrite(f'input_{name}.png', bgr)
    marked = encode(bgr.copy(), bits)
    cv2.imwrite(f'marked_{name}.png', marked)
    # The reference encoder does not always survive its own decoder on smooth content: record both.
    with open(f'marked_{name}.txt', 'w') as f:
        f.write(f'embedded {bits}\ndecoded {decode(marked, len(bits))}\n')
    print(name, bgr.shape, bits)

# Images marked by FluxWeb's C# encoder (carrier-preserving mode), decoded here by the public decoder.
import glob
for path in sorted(glob.glob('fluxweb_*.png')):
    text_path = path[:-4] + '.txt'
    embedded = open(text_path).read().split()[1]
    decoded = decode(cv2.imread(path, cv2.IMREAD_COLOR), len(embedded))
    with open(text_path, 'w') as f:
        f.write(f'embedded {embedded}\ndecoded {decoded}\n')
    print(path, 'imwatermark decodes', decoded, 'match' if decoded == embedded else 'MISMATCH')
