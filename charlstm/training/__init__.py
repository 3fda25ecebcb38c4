"""The training run: the one wing that imports TensorFlow (through tf_runtime.py, on demand).

    plan.py      the run decided before TensorFlow: corpus encoded, run directory, resume rules read
    setup.py     the plan turned into devices, batches, a compiled model and a monitor
    loop.py      the loop itself, top to bottom (`TrainingRun`)
    step.py      the compiled training and evaluation steps under tf.distribute (padding, lost workers)
    model.py     the Keras model: built, weights named and assigned, loaded from a checkpoint
    cells.py     the custom Keras cells (peephole, CIFG), twins of the sampler's equations
    dataset.py   windows and carried-state streams in NumPy; schedule.py the learning rate (pure)
    itembatches.py  --items: one item a row from the zero state, long items cut with the state carried
    monitor.py   progress, epoch lines, TensorBoard; runstate.py and resume.py: where a run is, and resuming
    finetune.py  a fine-tune's start (`--init-from`), grown to the text's vocabulary
    sizing.py    the network a `--max-time` budget buys (layers, units, dropout): a table, and a speed probe
    tf_runtime.py  TensorFlow and Keras imported quietly, on the chosen device

May import: the sampler (the network's weight names, samples between epochs), text, catalog
(Macbeth when no corpus is given) and the shared core. Importing this package loads no TensorFlow.
"""
