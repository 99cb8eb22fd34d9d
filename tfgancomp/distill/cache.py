"""The frozen teacher's outputs and tap activations, computed once per training example instead of once per step.

The teacher of a distillation (or supernet) run never changes, so the forward pass it makes at every step repeats
the same work every epoch: with a 16×-smaller student it is most of the step. :class:`TeacherCache` runs it once
over the unaugmented training examples — and once over their mirror images when training flips — and serves
batches of ``(inputs, targets, (teacher_output, *teacher_taps))`` that :class:`~tfgancomp.distill.Distiller` reads
instead of calling the teacher. A flipped example is the flipped input with the teacher's outputs *for the flipped
input* (a convolutional generator is not mirror-symmetric), so every cached step computes what the uncached step
computes on the same batch (tests/distill/test_cache.py); random crops (``load_size``) would need a teacher pass per
crop and are not cached. Building the cache holds it twice at its peak (the batches, then the arrays it keeps), so
the default limit is :data:`MEMORY_SHARE` of the physical memory.
"""

from __future__ import annotations

import os

import numpy as np

from tfgancomp.backend import tf

#: The default largest cache, as a share of the physical memory (building it holds it twice at its peak).
MEMORY_SHARE = 1 / 3


def memory_limit() -> int | None:
    """The default cache limit in bytes: :data:`MEMORY_SHARE` of the physical memory (``None``: unknown)."""
    total = physical_memory_bytes()
    return int(total * MEMORY_SHARE) if total else None


def physical_memory_bytes() -> int | None:
    """This machine's physical memory in bytes (``None`` where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


class TeacherCache:
    """Every training example with the frozen teacher's output and tap activations, held in memory.

    Build it with :meth:`compute`; :meth:`dataset` serves shuffled (and randomly flipped) batches from it. The
    arrays live in non-trainable ``tf.Variable`` s on the CPU, gathered per batch, so no size limit of graph
    constants applies.

    Args:
        inputs: Generator inputs, ``(N, H, W, C)``.
        targets: Paired targets ``(N, H, W, C')``, or ``None`` when the targets come from another stream (unpaired
            training: the real images of domain B).
        outputs: ``(teacher_output, *taps)`` for ``inputs``, each ``(N, ...)``.
        flipped: The same for the horizontally flipped inputs, or ``None`` when training does not flip.
    """

    def __init__(self, inputs, targets, outputs, flipped=None):
        with tf.device("/cpu:0"):
            self._inputs = tf.Variable(inputs, trainable=False, name="cached_inputs")
            self._targets = None if targets is None else tf.Variable(targets, trainable=False, name="cached_targets")
            self._outputs = [tf.Variable(o, trainable=False, name=f"cached_teacher_{i}") for i, o in enumerate(outputs)]
            self._flipped = None
            if flipped is not None:
                self._flipped = [tf.Variable(o, trainable=False, name=f"cached_flipped_{i}")
                                 for i, o in enumerate(flipped)]  # fmt: skip
        self.count = int(inputs.shape[0])
        self.nbytes = int(
            sum(np.asarray(a).nbytes for a in (inputs, targets, *outputs, *(flipped or ())) if a is not None)
        )

    @property
    def flips(self) -> bool:
        """Whether the mirrored examples (and the teacher's outputs for them) are held too."""
        return self._flipped is not None

    @classmethod
    def compute(cls, teacher_tapped, batches, flip: bool, paired: bool = True, max_bytes: int | None = None,
                log=print) -> TeacherCache:  # fmt: skip
        """Run ``teacher_tapped`` over ``batches`` of ``(inputs, targets)`` once (twice with ``flip``).

        Args:
            teacher_tapped: The teacher's tap model (``inputs -> [output, *taps]``), run in inference mode.
            batches: An iterable of unaugmented ``(inputs, targets)`` batches in a fixed order.
            flip: Also hold every example mirrored (training flips at random).
            paired: Keep the targets (``False``: unpaired training takes them from another stream).
            max_bytes: Refuse a cache larger than this, before computing more of it (default: :func:`memory_limit`).
            log: Where the cache's size goes.

        Raises:
            ValueError: The cache would not fit in ``max_bytes``; the message gives its size.
        """
        limit = max_bytes if max_bytes is not None else memory_limit()
        parts: dict[str, list] = {"inputs": [], "targets": [], "outputs": [], "flipped": []}
        per_example, held = None, 0
        for x, y in batches:
            outs = [o.numpy() for o in teacher_tapped(x, training=False)]
            mirrored = [o.numpy() for o in teacher_tapped(tf.reverse(x, [2]), training=False)] if flip else []
            arrays = [np.asarray(x), *((np.asarray(y),) if paired else ()), *outs, *mirrored]
            if per_example is None:
                per_example = sum(a[0].nbytes for a in arrays)
            held += sum(a.nbytes for a in arrays)
            total = max(held, per_example * _count(batches, int(x.shape[0])))  # known sizes: refused before any work
            if limit is not None and total > limit:
                raise ValueError(
                    f"the teacher cache would take {total / 2**30:.2f} GiB ({per_example / 2**20:.2f} MiB per "
                    f"example{', both flips' if flip else ''}), over the {limit / 2**30:.2f} GiB allowed; train "
                    "without cache_teacher, on fewer or smaller images, or without flips"
                )
            parts["inputs"].append(arrays[0])
            if paired:
                parts["targets"].append(arrays[1])
            parts["outputs"].append(outs)
            parts["flipped"].append(mirrored)
        if per_example is None:
            raise ValueError("the teacher cache got no training examples")
        outputs = [np.concatenate(o) for o in zip(*parts.pop("outputs"), strict=True)]
        flipped = [np.concatenate(o) for o in zip(*parts.pop("flipped"), strict=True)] if flip else None
        targets = np.concatenate(parts.pop("targets")) if paired else None
        cache = cls(np.concatenate(parts.pop("inputs")), targets, outputs, flipped)
        log(f"teacher cache: {cache.count} examples{' and their mirror images' if flip else ''}, "
            f"{cache.nbytes / 2**20:.1f} MiB")  # fmt: skip
        return cache

    def dataset(self, batch_size: int, seed: int | None = None, partner=None) -> tf.data.Dataset:
        """Shuffled batches ``(inputs, targets, (teacher_output, *taps))``, reshuffled every epoch.

        With flips, each example is mirrored with probability 1/2 — input, target and the teacher's outputs for the
        mirrored input together. The last incomplete batch is dropped, as in the training readers.

        Args:
            batch_size: Examples per batch.
            seed: Seed of the order and the flips.
            partner: For an unpaired cache, a dataset of target batches zipped in (the training reader's stream of
                domain-B images); the epoch ends with the shorter of the two.
        """
        if partner is not None and self._targets is not None:
            raise ValueError("a paired teacher cache takes no partner stream")
        if partner is None and self._targets is None:
            raise ValueError("an unpaired teacher cache needs the partner stream of targets")
        if self.count < batch_size:
            raise ValueError(f"the teacher cache holds {self.count} examples, fewer than one batch of {batch_size}")
        order = tf.data.Dataset.range(self.count).shuffle(self.count, seed=seed, reshuffle_each_iteration=True)
        # the coins' own stream: with the shuffle's seed, Dataset.random repeats the draws that chose the order
        coin_seed = None if seed is None else (int(seed) * 1_000_003 + 7_919) % 2**31
        coins = tf.data.Dataset.random(seed=coin_seed, rerandomize_each_iteration=True)
        batches = tf.data.Dataset.zip((order, coins)).batch(batch_size, drop_remainder=True)
        paired = self._targets is not None

        def gather(index, random):
            x = tf.gather(self._inputs, index)
            y = tf.gather(self._targets, index) if paired else None
            outs = [tf.gather(v, index) for v in self._outputs]
            if self._flipped is not None:
                mirror = tf.math.floormod(random, 2) == 1

                def pick(plain, mirrored):
                    shape = tf.concat([[-1], tf.ones([tf.rank(plain) - 1], tf.int32)], 0)
                    return tf.where(tf.reshape(mirror, shape), mirrored, plain)

                outs = [pick(o, tf.gather(v, index)) for o, v in zip(outs, self._flipped, strict=True)]
                x = pick(x, tf.reverse(x, [2]))
                if paired:
                    y = pick(y, tf.reverse(y, [2]))
            return (x, y, tuple(outs)) if paired else (x, tuple(outs))

        ds = batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        if not paired:
            ds = tf.data.Dataset.zip((ds, partner)).map(lambda cached, b: (cached[0], b, cached[1]))
        options = tf.data.Options()
        options.deterministic = True
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def _count(batches, batch: int) -> int:
    """Examples in ``batches`` (a reader's dataset knows its cardinality, a list its length; else one batch)."""
    if isinstance(batches, (list, tuple)):
        return len(batches) * batch
    cardinality = getattr(batches, "cardinality", None)
    if cardinality is not None:
        n = int(cardinality())
        if n > 0:
            return n * batch
    return batch
