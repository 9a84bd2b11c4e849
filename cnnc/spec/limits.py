"""How large a spec, and what it asks for, may be; each is checked before the work it causes.

A spec is a few kilobytes, but a few bytes can ask for a lot: `repeat: 1000000000`, aliases that
use aliases (9 levels of 9 are 387 million values), brackets nested a thousand deep, a 400-digit
stride, `"$w * 1000000000"`, a block that instantiates itself without end. Only MAX_LAYERS is an
option (`--max-layers`, `max_layers=`): a real network may be larger than the zoo's, while nothing
real comes near the others.
"""

MAX_BYTES = 8 << 20        # the zoo's largest spec is 4 KB; 100,000 layers written out ~6 MB
MAX_VALUES = 1_000_000     # values in a document, each alias counted at every use
MAX_DEPTH = 32             # mappings and lists nested; a spec needs about 8
MAX_INT = 2**31 - 1        # any integer, written or computed: no size or count comes near it
MAX_EXPRESSION = 400       # characters in one expression
MAX_INTERMEDIATE = 2**64   # inside an expression (`2 ** 64 // $n` is fine)
MAX_RECURSION = 32         # a block inside itself; a stacked hourglass nests 4 deep
MAX_LAYERS = 100_000       # layers after blocks and repeats; the zoo's largest has 300
