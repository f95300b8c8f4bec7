/*
 * libmlp: dense multilayer perceptrons trained with exact backpropagation.
 *
 * The math, the notation (Z, A, delta, dW, db) and the memory layout follow
 * docs/SPEC.md. In short: matrices are row-major float, one sample per row.
 * A batch X of m samples is an m x n_0 array; layer l caches
 * Z^(l) = A^(l-1) W^(l)^T + 1 b^(l)^T and A^(l) = g_l(Z^(l)), both m x n_l;
 * W^(l) is n_l x n_(l-1) (row j holds the weights into unit j) and b^(l) has
 * n_l entries. Losses are means over the batch, so dW and db are gradients of
 * the batch-mean loss C.
 *
 * Conventions used by every function below:
 * - Every function that can fail returns an mlp_status. MLP_OK is 0.
 * - NULL where a pointer is required is MLP_ERR_ARG.
 * - A call that fails leaves every object it was given as it was before the
 *   call, unless its comment says otherwise.
 * - The library never prints, aborts or exits.
 * - Handles (mlp_net, mlp_optimizer) are opaque and owned by the caller, who
 *   frees them with the matching *_free function. Pointers the library hands
 *   out (views of parameters, caches, outputs) stay owned by the library and
 *   stay valid until the next call that changes the network's shape or batch
 *   capacity (mlp_net_add_dense, or mlp_forward with a larger m than before),
 *   or until the handle is freed.
 *
 * Threads: see the section "Threads" at the end of this file.
 */
#ifndef MLP_H
#define MLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLP_VERSION_MAJOR 0
#define MLP_VERSION_MINOR 1
#define MLP_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

typedef enum mlp_status {
    MLP_OK = 0,     /* success */
    MLP_ERR_ARG,    /* a bad argument: NULL, zero size, unsupported choice */
    MLP_ERR_SHAPE,  /* sizes that do not fit together, or whose product overflows */
    MLP_ERR_NOMEM,  /* an allocation failed */
    MLP_ERR_IO,     /* a file could not be opened, read or written */
    MLP_ERR_FORMAT, /* a file or buffer is not a valid libmlp model or CSV */
    MLP_ERR_STATE,  /* the call is not valid now (e.g. backward before forward) */
    MLP_ERR_NUMERIC /* a loss or value became NaN or infinite */
} mlp_status;

/* A short, static, English description of a status. Never NULL; an unknown
 * value gives "unknown status". */
const char *mlp_strerror(mlp_status status);

/* The library version as "MAJOR.MINOR.PATCH". Static storage. */
const char *mlp_version(void);

/* ------------------------------------------------------------------------ */
/* Activations and losses                                                    */
/* ------------------------------------------------------------------------ */

/* Sigmoid and tanh use libmlp's own exponential rather than libm's, so
 * that their loops vectorize, with the same bits on every x86-64 CPU: tanh
 * is correctly rounded (computed in double), the sigmoid within 3 ulp of
 * the exact value. */
typedef enum {
    MLP_IDENTITY,   /* g(z) = z */
    MLP_SIGMOID,    /* g(z) = 1 / (1 + e^-z), overflow-safe */
    MLP_TANH,       /* g(z) = tanh z */
    MLP_RELU,       /* g(z) = max(0, z), g'(0) = 0 */
    MLP_LEAKY_RELU, /* g(z) = z if z > 0 else 0.01 z */
    MLP_SOFTMAX     /* per row; output layer with MLP_CROSS_ENTROPY only */
} mlp_activation;

typedef enum {
    MLP_MSE,          /* C = (1/m) sum_i 1/2 ||a_i - y_i||^2; any output but softmax */
    MLP_BCE,          /* binary cross-entropy; sigmoid output only; targets in [0,1] */
    MLP_CROSS_ENTROPY /* -(1/m) sum y log a; softmax output only; rows of Y sum to 1 */
} mlp_loss;

/* ------------------------------------------------------------------------ */
/* Networks                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct mlp_net mlp_net;

/* Creates an empty network for inputs of n_inputs features, trained with the
 * given loss. seed drives the weight initialization of every layer added
 * later, so the same seed and the same calls give bit-identical weights.
 * On success *out owns a new network (free it with mlp_net_free).
 * Returns MLP_ERR_ARG (out NULL, n_inputs 0, unknown loss), MLP_ERR_SHAPE
 * (n_inputs above INT_MAX, the largest dimension BLAS takes), MLP_ERR_NOMEM. */
mlp_status mlp_net_create(mlp_net **out, size_t n_inputs, mlp_loss loss, uint64_t seed);

/* Appends a dense layer of n_outputs units with activation act. Its weights
 * are drawn from the network's seeded generator: Glorot uniform for identity,
 * sigmoid, tanh and softmax layers, He normal for ReLU and leaky ReLU; biases
 * are zero. Adding a layer discards the cached batch of the last forward
 * pass and the gradients (mlp_backward is MLP_ERR_STATE until the next
 * mlp_forward), and invalidates views from mlp_layer_params.
 * Returns MLP_ERR_ARG (net NULL, n_outputs 0, unknown activation, softmax
 * with a loss other than cross-entropy, or a layer after a softmax layer),
 * MLP_ERR_SHAPE (n_outputs above INT_MAX, the largest dimension BLAS
 * takes, or the parameter count overflows), MLP_ERR_NOMEM. */
mlp_status mlp_net_add_dense(mlp_net *net, size_t n_outputs, mlp_activation act);

/* Frees a network and everything it owns. NULL is a no-op. */
void mlp_net_free(mlp_net *net);

/* The number of dense layers (0 for NULL). */
size_t mlp_net_layers(const mlp_net *net);

/* The input width n_0 (0 for NULL). */
size_t mlp_net_inputs(const mlp_net *net);

/* The output width n_L, 0 for NULL or a network without layers. */
size_t mlp_net_outputs(const mlp_net *net);

/* The total number of trainable parameters (weights and biases). */
size_t mlp_net_param_count(const mlp_net *net);

/* The loss the network was created with. MLP_ERR_ARG for NULL arguments. */
mlp_status mlp_net_loss(const mlp_net *net, mlp_loss *loss);

/* The activation of layer `layer` (0 is the first dense layer).
 * Returns MLP_ERR_ARG (NULL argument, layer out of range). */
mlp_status mlp_layer_activation(const mlp_net *net, size_t layer, mlp_activation *act);

/* Views of layer `layer`'s parameters, which the caller may read and write:
 * *W is n_out x n_in row-major, *b has n_out entries. Any of W, b, n_out,
 * n_in may be NULL when not wanted. The views stay valid until the next
 * mlp_net_add_dense or mlp_net_free.
 * Writable views cost a little speed while they are valid: an optimizer
 * step cannot see what was written through them, so once W or b has been
 * asked for, every step of a network of 256 or more parameters reads them
 * once more before it updates them. To read only, use
 * mlp_layer_params_const, and to set values, mlp_layer_set_params: neither
 * has that cost.
 * Returns MLP_ERR_ARG (net NULL, layer out of range). */
mlp_status mlp_layer_params(mlp_net *net, size_t layer, float **W, float **b,
                            size_t *n_out, size_t *n_in);

/* Read-only views of layer `layer`'s parameters, as mlp_layer_params gives
 * them: *W is n_out x n_in row-major, *b has n_out entries, any pointer may
 * be NULL when not wanted, and the views stay valid until the next
 * mlp_net_add_dense or mlp_net_free.
 * Returns MLP_ERR_ARG (net NULL, layer out of range). */
mlp_status mlp_layer_params_const(const mlp_net *net, size_t layer, const float **W,
                                  const float **b, size_t *n_out, size_t *n_in);

/* Copies new parameters into layer `layer`: W (n_out x n_in, row-major)
 * and b (n_out entries), either of them NULL to keep that part as it is.
 * The caller keeps ownership of W and b, which may be views of this same
 * layer. Every value is checked first, and a NaN or infinity anywhere
 * changes nothing. As with a write through mlp_layer_params' views, the
 * cached batch and the gradients stay those of the old parameters; unlike
 * it, later optimizer steps lose no speed.
 * Returns MLP_ERR_ARG (net NULL, layer out of range, W and b both NULL, a
 * value that is not finite). */
mlp_status mlp_layer_set_params(mlp_net *net, size_t layer, const float *W,
                                const float *b);

/* Read-only views of layer `layer`'s gradients from the last mlp_backward:
 * dW (n_out x n_in) and db (n_out) are gradients of the batch-mean loss.
 * Either pointer may be NULL when not wanted.
 * Returns MLP_ERR_ARG (net NULL, layer out of range), MLP_ERR_STATE (no
 * backward pass since the network was created or last changed). */
mlp_status mlp_layer_grads(const mlp_net *net, size_t layer, const float **dW,
                           const float **db);

/* Read-only views of layer `layer`'s cached batch matrices: Z and A from the
 * last mlp_forward, delta (dC/dZ) from the last mlp_backward (NULL if no
 * backward pass followed that forward), each m x n_out row-major, with the
 * batch size m. Any output pointer may be NULL when not wanted.
 * Returns MLP_ERR_ARG (net NULL, layer out of range), MLP_ERR_STATE (no
 * forward pass since the network was created or last changed). */
mlp_status mlp_layer_cache(const mlp_net *net, size_t layer, const float **Z,
                           const float **A, const float **delta, size_t *m);

/* ------------------------------------------------------------------------ */
/* Forward and backward passes                                               */
/* ------------------------------------------------------------------------ */

/* Runs a batch of m rows of X (m x n_0, row-major) through the network,
 * caching Z and A in every layer, and points *out at the m x n_L output
 * (owned by the network, valid until the next forward pass or change).
 * X is not copied: it must stay valid and unchanged until the matching
 * mlp_backward, which reads it to form dW of the first layer.
 * m may change from call to call; buffers grow when m exceeds every earlier
 * batch and are reused otherwise.
 * Returns MLP_ERR_ARG (NULL argument, m 0, a non-finite value in X, or a
 * network that cannot be trained exactly: no layers, or an output
 * activation that does not match the loss), MLP_ERR_SHAPE (m above INT_MAX,
 * the largest dimension BLAS takes, or m times a layer width overflows),
 * MLP_ERR_NOMEM. */
mlp_status mlp_forward(mlp_net *net, const float *X, size_t m, const float **out);

/* Computes the loss C of the last forward batch against targets Y
 * (m x n_L, row-major) into *loss (which may be NULL), and every layer's
 * delta, dW and db. Uses the fused output deltas of SPEC.md for
 * sigmoid + BCE and softmax + cross-entropy.
 * Returns MLP_ERR_ARG (net or Y NULL; a non-finite target; a BCE target
 * outside [0,1]; a cross-entropy row with a negative entry or a sum that
 * is not 1 within 1e-3), MLP_ERR_STATE (no forward pass since the network
 * was created or changed), MLP_ERR_NUMERIC (the loss is NaN or infinite;
 * the gradients, and the deltas of an earlier mlp_backward on the same
 * batch, are then left as they were). */
mlp_status mlp_backward(mlp_net *net, const float *Y, float *loss);

/* The loss of the last forward batch against Y, without computing
 * gradients. Same checks and statuses as mlp_backward. */
mlp_status mlp_loss_value(const mlp_net *net, const float *Y, float *loss);

/* Runs m rows of X forward and copies the m x n_L outputs to out, which the
 * caller provides. Same statuses as mlp_forward. This is mlp_forward plus
 * the copy: it uses and replaces the network's cached batch (so, as there,
 * an mlp_backward after it reads X, which must still be valid then), and it
 * is not safe to call concurrently on one network: use mlp_infer for that. */
mlp_status mlp_predict(mlp_net *net, const float *X, size_t m, float *out);

/* The number of floats of workspace mlp_infer needs for a batch of m rows:
 * two buffers of m x (widest layer) floats. 0 for a NULL or empty network, m 0,
 * or a size that overflows. */
size_t mlp_infer_workspace_size(const mlp_net *net, size_t m);

/* Inference that does not change the network: runs m rows of X forward using
 * the caller's workspace (at least mlp_infer_workspace_size(net, m) floats,
 * given in work_len) and writes the m x n_L outputs to out. out may be X
 * itself (the outputs are written once X has been read); work must not
 * overlap X or out. Several threads may call it on one network at once,
 * each with its own workspace, as long as no thread changes the network
 * meanwhile.
 * Returns MLP_ERR_ARG (NULL argument, m 0, non-finite input, network without
 * layers or whose output activation does not match its loss), MLP_ERR_SHAPE
 * (work_len too small, m above INT_MAX, or sizes overflow). */
mlp_status mlp_infer(const mlp_net *net, const float *X, size_t m, float *out,
                     float *work, size_t work_len);

/* ------------------------------------------------------------------------ */
/* Optimizers                                                                */
/* ------------------------------------------------------------------------ */

typedef struct mlp_optimizer mlp_optimizer;

/* Creates an SGD optimizer for net's current parameters. momentum 0 is plain
 * SGD (W <- W - lr dW). Otherwise, as PyTorch's SGD: v <- mu v + g,
 * W <- W - lr v (v starts at the first gradient). weight_decay adds
 * weight_decay * W to every gradient g, biases included.
 * Returns MLP_ERR_ARG (NULL argument, a network without layers, a
 * learning rate that is not finite and positive, momentum outside [0, 1),
 * negative or non-finite weight decay), MLP_ERR_NOMEM. */
mlp_status mlp_sgd_create(mlp_optimizer **out, const mlp_net *net, float learning_rate,
                          float momentum, float weight_decay);

/* Switches an SGD optimizer with momentum > 0 to Nesterov momentum as in
 * PyTorch (g <- g + mu v after updating v) or back (enabled 0).
 * Returns MLP_ERR_ARG (NULL, not an SGD optimizer, momentum 0). */
mlp_status mlp_sgd_set_nesterov(mlp_optimizer *opt, int enabled);

/* Creates an Adam optimizer (Kingma and Ba, with bias correction), as
 * PyTorch's Adam: weight_decay adds weight_decay * W to the gradient.
 * Returns MLP_ERR_ARG (NULL argument, network without layers, learning rate
 * not finite and positive, beta1 or beta2 outside [0, 1), epsilon not
 * finite and positive, negative or non-finite weight decay), MLP_ERR_NOMEM. */
mlp_status mlp_adam_create(mlp_optimizer **out, const mlp_net *net, float learning_rate,
                           float beta1, float beta2, float epsilon, float weight_decay);

/* As mlp_adam_create, but with decoupled weight decay as PyTorch's AdamW:
 * W <- W - lr * weight_decay * W before the Adam update. */
mlp_status mlp_adamw_create(mlp_optimizer **out, const mlp_net *net, float learning_rate,
                            float beta1, float beta2, float epsilon, float weight_decay);

/* Applies one update to net's parameters from the gradients of the last
 * mlp_backward.
 * Returns MLP_ERR_ARG (NULL argument), MLP_ERR_SHAPE (net does not have the
 * parameter count the optimizer was created for), MLP_ERR_STATE (no
 * gradients: no mlp_backward since the network was created or changed),
 * MLP_ERR_NUMERIC (the update would make a parameter or the optimizer's
 * state NaN or infinite, e.g. from overflowing gradients; nothing is
 * changed). */
mlp_status mlp_optimizer_step(mlp_optimizer *opt, mlp_net *net);

/* Sets the learning rate used by the following steps. MLP_ERR_ARG for NULL
 * or a rate that is not finite and positive. */
mlp_status mlp_optimizer_set_lr(mlp_optimizer *opt, float learning_rate);

/* The current learning rate (0 for NULL). */
float mlp_optimizer_lr(const mlp_optimizer *opt);

/* Frees an optimizer. NULL is a no-op. */
void mlp_optimizer_free(mlp_optimizer *opt);

/* Forward, backward and one optimizer step on a batch of m rows: X is
 * m x n_0, Y is m x n_L. *loss (may be NULL) receives the batch loss before
 * the step. Statuses: those of mlp_forward, mlp_backward and
 * mlp_optimizer_step; on MLP_ERR_NUMERIC no step is taken. X and Y are both
 * checked first, so a refused argument changes nothing. A non-finite loss
 * leaves the parameters and gradients unchanged but the cached batch is that
 * of X; a refused step leaves the parameters unchanged but the gradients are
 * those of this batch. */
mlp_status mlp_train_batch(mlp_net *net, mlp_optimizer *opt, const float *X,
                           const float *Y, size_t m, float *loss);

/* ------------------------------------------------------------------------ */
/* Gradient inspection and clipping                                          */
/* ------------------------------------------------------------------------ */

/* The Euclidean norm of layer `layer`'s gradients (dW and db together) from
 * the last backward pass, to watch for vanishing or exploding gradients.
 * Returns MLP_ERR_ARG (NULL, layer out of range), MLP_ERR_STATE (no
 * gradients yet). */
mlp_status mlp_layer_grad_norm(const mlp_net *net, size_t layer, float *norm);

/* Clips the gradients of the whole network by global norm, as PyTorch's
 * clip_grad_norm_: if the norm over every dW and db exceeds max_norm, all
 * are scaled by max_norm / norm. *total_norm (may be NULL) receives the norm
 * before clipping, also on MLP_ERR_NUMERIC, rounded to float: infinity for
 * finite gradients whose norm (summed in double) is beyond FLT_MAX, which
 * are still clipped.
 * Returns MLP_ERR_ARG (net NULL, max_norm not finite and positive),
 * MLP_ERR_STATE (no gradients yet), MLP_ERR_NUMERIC (the norm is NaN or
 * infinite; the gradients are left unscaled). */
mlp_status mlp_clip_grad_norm(mlp_net *net, float max_norm, float *total_norm);

/* ------------------------------------------------------------------------ */
/* Learning-rate schedules                                                   */
/* ------------------------------------------------------------------------ */

typedef enum {
    MLP_SCHEDULE_CONSTANT, /* lr = base_lr */
    MLP_SCHEDULE_STEP,     /* lr = base_lr * gamma^floor(epoch / step_size) */
    MLP_SCHEDULE_COSINE /* lr = min_lr + (base_lr - min_lr)(1 + cos(pi epoch / t_max))/2
                         */
} mlp_schedule_kind;

/* A learning-rate schedule by epoch, as PyTorch's StepLR and
 * CosineAnnealingLR (epochs past t_max stay at min_lr). */
typedef struct mlp_schedule {
    mlp_schedule_kind kind;
    float base_lr;
    size_t step_size; /* STEP: epochs between decays (>= 1) */
    float gamma;      /* STEP: decay factor */
    size_t t_max;     /* COSINE: epochs of one half cosine (>= 1) */
    float min_lr;     /* COSINE: the floor */
} mlp_schedule;

/* The learning rate of epoch `epoch` (counted from 0) into *lr, computed in
 * double and rounded to float.
 * Returns MLP_ERR_ARG (NULL, unknown kind, step_size or t_max 0 where used,
 * base_lr, gamma (STEP) or min_lr (COSINE) not finite and positive, or a
 * result that is not finite and positive after rounding, e.g. a decay that
 * underflows to 0). */
mlp_status mlp_schedule_lr(const mlp_schedule *schedule, size_t epoch, float *lr);

/* ------------------------------------------------------------------------ */
/* Training loop                                                             */
/* ------------------------------------------------------------------------ */

typedef enum {
    MLP_METRIC_NONE,
    MLP_METRIC_ACCURACY, /* arg max of each row (or output > 0.5 for one output) */
    MLP_METRIC_MSE,      /* mean over all entries of (prediction - target)^2 */
    MLP_METRIC_R2        /* coefficient of determination, averaged over outputs */
} mlp_metric;

/* What the fit loop reports after every epoch. */
typedef struct mlp_epoch_info {
    size_t epoch;         /* counted from 0; a call starts at first_epoch */
    double train_loss;    /* mean of the batch losses, weighted by batch size */
    double val_loss;      /* loss on the validation set; NaN without one */
    double val_metric;    /* the chosen metric on the validation set; NaN without one */
    double elapsed_s;     /* seconds since mlp_fit started */
    double samples_per_s; /* training samples per second in this epoch */
    float learning_rate;  /* the rate used in this epoch */
} mlp_epoch_info;

/* Called after every epoch; returning non-zero stops training (early
 * stopping), and mlp_fit then returns MLP_OK. */
typedef int (*mlp_epoch_callback)(const mlp_epoch_info *info, void *user);

typedef struct mlp_fit_options {
    size_t epochs;                /* epochs in this call; default 10 */
    size_t first_epoch;           /* number of this call's first epoch; default 0 */
    size_t batch_size;            /* default 32; the last partial batch is used */
    uint64_t shuffle_seed;        /* order of samples each epoch; default 1 */
    int shuffle;                  /* non-zero (default) reshuffles every epoch */
    const float *X_val;           /* optional validation inputs, n_val x n_0 */
    const float *Y_val;           /* optional validation targets, n_val x n_L */
    size_t n_val;                 /* 0 for no validation set */
    mlp_metric metric;            /* metric reported on the validation set */
    const mlp_schedule *schedule; /* optional; sets the optimizer's rate per epoch */
    float clip_norm;              /* > 0 clips gradients to this global norm;
                                     0 (default) does not clip */
    mlp_epoch_callback callback;  /* optional */
    void *user;                   /* passed to callback */
} mlp_fit_options;

/* The defaults listed in mlp_fit_options. */
mlp_fit_options mlp_fit_defaults(void);

/* Trains net with opt for options->epochs epochs over the n rows of X
 * (n x n_0) and Y (n x n_L) in mini-batches of batch_size rows (the last
 * one may be smaller). options may be NULL for the defaults. Each batch is
 * a forward pass, a backward pass, a clipping of the gradients when
 * clip_norm > 0, and an optimizer step. With shuffle, every epoch visits
 * the rows in a new order drawn from a generator seeded once with
 * shuffle_seed; without, in order. With the same seed, data and thread
 * count the result is bit-identical. At the start of each epoch a schedule
 * sets the optimizer's rate (which it keeps after the call). After each
 * epoch the validation set, if any, is evaluated as by mlp_evaluate and the
 * callback is called; a non-zero return stops training with MLP_OK.
 *
 * Epochs are numbered from first_epoch (reported in mlp_epoch_info, passed
 * to the schedule), and the call's sample orders are those of epochs
 * first_epoch, first_epoch + 1, ... of the shuffle_seed sequence. So
 * training that saved its network and optimizer (mlp_net_save,
 * mlp_optimizer_save) after e epochs, for instance from the callback of
 * epoch e - 1, resumes from the loaded copies with first_epoch = e and the
 * same options otherwise, taking the same steps bit for bit as training
 * that never stopped. (The one difference: a resumed call cannot undo the
 * stopped call's last step, see below.)
 *
 * Everything is checked before anything changes: the arguments, every row
 * of X and Y (and of the validation set) as mlp_forward and mlp_backward
 * would, the schedule for the first and last epoch. All buffers are
 * allocated at the start; the steps allocate nothing (beyond the network's
 * own caches on its first batch).
 *
 * Numeric failure: a step is kept only if the parameters it produces are
 * finite and the next loss computed with them (the next batch's, or the
 * validation loss or metric) is finite. Otherwise training stops with
 * MLP_ERR_NUMERIC and the parameters are put back as they were before that
 * step, i.e. those after the last good step (the optimizer's moments are
 * not rolled back). A non-finite gradient norm while clipping stops with
 * MLP_ERR_NUMERIC before the step.
 *
 * A call that passed its checks discards the cached batch at the end (its
 * input may have been an internal buffer): mlp_backward and mlp_layer_cache
 * are MLP_ERR_STATE until the next mlp_forward. The gradients stay.
 *
 * Returns MLP_ERR_ARG (NULL argument, n 0, epochs or batch size 0,
 * first_epoch + epochs overflowing size_t, unknown
 * metric, a negative or non-finite clip_norm, a validation set with n_val 0
 * or missing arrays, an invalid schedule, a non-finite input, a target
 * outside the loss's domain, a network that cannot be trained),
 * MLP_ERR_SHAPE (sizes that overflow; net's parameter count is not the one
 * opt was created for, found at the first step, which is then not taken),
 * MLP_ERR_NUMERIC (as above; also for R2 with a constant validation target
 * column, before training), MLP_ERR_NOMEM. Failures other than
 * MLP_ERR_NUMERIC leave the parameters unchanged. */
mlp_status mlp_fit(mlp_net *net, mlp_optimizer *opt, const float *X, const float *Y,
                   size_t n, const mlp_fit_options *options);

/* The mean loss over the n rows of X and Y into *loss and, if metric_value
 * is not NULL, the metric into *metric_value (NaN for MLP_METRIC_NONE).
 * Either output may be NULL; with metric_value NULL the metric is not
 * computed, and so cannot fail. The rows are run forward in chunks of the
 * network's current batch capacity (256 rows if it has none yet) straight
 * from X and Y; chunk losses are weighted by chunk size and summed in
 * double, and the metric is accumulated chunk by chunk. Uses the network's
 * caches but not its gradients. Every row is checked before any forward.
 * Returns MLP_ERR_ARG (NULL net, X or Y, n 0, unknown metric, a non-finite
 * input, a target outside the loss's domain, a network that cannot be
 * trained), MLP_ERR_SHAPE (sizes overflow), MLP_ERR_NUMERIC (a non-finite
 * loss or metric, or R2 with a constant target column), MLP_ERR_NOMEM.
 * The outputs are written only on success. */
mlp_status mlp_evaluate(mlp_net *net, const float *X, const float *Y, size_t n,
                        mlp_metric metric, double *loss, double *metric_value);

/* ------------------------------------------------------------------------ */
/* Model files                                                               */
/* ------------------------------------------------------------------------ */

/* Saves the architecture and parameters to path in the format of
 * docs/model-format.md (little-endian, versioned, with a checksum). An
 * existing file is replaced atomically: the model is written to a temporary
 * file in the same folder, flushed and renamed, so a failure never leaves a
 * half-written file at path. The temporary is named '.' + 16 hex digits +
 * ".mlptmp" and removed on every failure the call sees; a process killed
 * while saving can leave one, which is safe to delete. A replaced file's
 * permission bits are kept; its owner and group are the saving process's,
 * as for any new file.
 * Returns MLP_ERR_ARG (NULL, a network without layers or whose output
 * activation does not match its loss, which could not be loaded back),
 * MLP_ERR_SHAPE (the size overflows size_t, as for mlp_net_saved_size),
 * MLP_ERR_IO (the file cannot be created, written or renamed; path is then
 * unchanged), MLP_ERR_NOMEM. */
mlp_status mlp_net_save(const mlp_net *net, const char *path);

/* Loads a model saved by mlp_net_save into a new network (*out, freed with
 * mlp_net_free). Every field is checked before anything is allocated.
 * Returns MLP_ERR_ARG (NULL), MLP_ERR_IO (cannot open or read),
 * MLP_ERR_FORMAT (truncated, corrupted, oversized or foreign),
 * MLP_ERR_NOMEM. */
mlp_status mlp_net_load(mlp_net **out, const char *path);

/* The size in bytes of the saved form of net into *size.
 * Returns MLP_ERR_ARG (NULL, network without layers or whose output
 * activation does not match its loss), MLP_ERR_SHAPE (the size overflows
 * size_t: not for a network whose layers could be added, but checked). */
mlp_status mlp_net_saved_size(const mlp_net *net, size_t *size);

/* Writes the saved form of net into buf of capacity cap bytes; *written
 * receives its size. Returns MLP_ERR_ARG (NULL, no layers, an output
 * activation that does not match the loss), MLP_ERR_SHAPE (cap too small,
 * or the size overflows). */
mlp_status mlp_net_save_buffer(const mlp_net *net, void *buf, size_t cap,
                               size_t *written);

/* As mlp_net_load, from len bytes at buf (which the caller keeps). */
mlp_status mlp_net_load_buffer(mlp_net **out, const void *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Optimizer state files                                                     */
/* ------------------------------------------------------------------------ */

/* Saves opt's state to path in the format of docs/optimizer-format.md: its
 * kind and settings (the learning rate as last set), its step count and
 * its moment buffers (SGD's velocity, Adam's two moments). A network saved
 * with mlp_net_save at the same point and this file let training resume
 * with exactly the steps it would have taken without stopping (mlp_fit:
 * see first_epoch). The network itself is not in this file. An existing
 * file is replaced atomically, as by mlp_net_save.
 * Returns MLP_ERR_ARG (NULL), MLP_ERR_SHAPE (the size overflows size_t, as
 * for mlp_optimizer_saved_size), MLP_ERR_IO (the file cannot be created,
 * written or renamed; path is then unchanged), MLP_ERR_NOMEM. */
mlp_status mlp_optimizer_save(const mlp_optimizer *opt, const char *path);

/* Loads an optimizer saved by mlp_optimizer_save into a new optimizer
 * (*out, freed with mlp_optimizer_free) for net, whose parameter count must
 * be the one the state was saved with (typically net is the network saved
 * at the same time). Every field and every buffer entry is checked before
 * anything is allocated. net is only read.
 * Returns MLP_ERR_ARG (NULL, net without layers), MLP_ERR_IO (cannot open
 * or read), MLP_ERR_FORMAT (truncated, corrupted, foreign, or a state no
 * optimizer can be in: invalid settings, non-finite moments),
 * MLP_ERR_SHAPE (saved for another parameter count), MLP_ERR_NOMEM. */
mlp_status mlp_optimizer_load(mlp_optimizer **out, const mlp_net *net, const char *path);

/* The size in bytes of the saved form of opt into *size.
 * Returns MLP_ERR_ARG (NULL), MLP_ERR_SHAPE (the size overflows size_t). */
mlp_status mlp_optimizer_saved_size(const mlp_optimizer *opt, size_t *size);

/* Writes the saved form of opt into buf of capacity cap bytes; *written
 * receives its size. Returns MLP_ERR_ARG (NULL), MLP_ERR_SHAPE (cap too
 * small). */
mlp_status mlp_optimizer_save_buffer(const mlp_optimizer *opt, void *buf, size_t cap,
                                     size_t *written);

/* As mlp_optimizer_load, from len bytes at buf (which the caller keeps). */
mlp_status mlp_optimizer_load_buffer(mlp_optimizer **out, const mlp_net *net,
                                     const void *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Data                                                                      */
/* ------------------------------------------------------------------------ */

/* Where a CSV file went wrong: the 1-based line (the header is line 1) and
 * column, and a short English message that repeats them, such as
 * "line 7, column 3: 'abc' is not a number". column is 0 when the problem
 * is a whole line, line is 0 when it is not at a place in the file (cannot
 * open or read it, out of memory, a NULL argument). On success line and
 * column are 0 and the message is empty. */
typedef struct mlp_csv_error {
    size_t line;
    size_t column;
    char message[128];
} mlp_csv_error;

/* Reads a numeric CSV file with one header row into a new row-major array
 * of *rows x *cols floats (free it with mlp_array_free). Fields are
 * separated by commas; every row must have as many fields as the header.
 * Lines end in LF or CRLF; spaces and tabs around fields are ignored;
 * header names are not parsed; values are read with strtof in the C
 * locale's number format, whatever locale the program has set, rounded
 * once to the nearest float, and must be finite and within float's range
 * (a value too small for a float reads as the nearest one, 0 or a
 * subnormal).
 * Empty lines at the end are ignored, elsewhere they are an error. Quoted
 * fields are not supported. Lines may be of any length.
 * err may be NULL; when given, it describes the first problem.
 * Returns MLP_ERR_ARG (NULL), MLP_ERR_IO (cannot open or read, e.g. a
 * directory), MLP_ERR_FORMAT (empty file or header, no data rows, an empty
 * line before more data, an empty or quoted field, a field that is not a
 * finite number or is out of float's range, a row of the wrong length, a
 * NUL byte anywhere: not a text file, and reading stops there, so that an
 * endless binary source such as /dev/zero is refused at once),
 * MLP_ERR_NOMEM. */
mlp_status mlp_csv_read(const char *path, float **data, size_t *rows, size_t *cols,
                        mlp_csv_error *err);

/* Frees an array returned by mlp_csv_read. NULL is a no-op. */
void mlp_array_free(float *data);

/* Copies columns [first, first + count) of a rows x cols array into dst
 * (rows x count). Returns MLP_ERR_ARG (NULL, rows, cols or count 0),
 * MLP_ERR_SHAPE (out of range, or rows x cols overflows). */
mlp_status mlp_columns_copy(const float *src, size_t rows, size_t cols, size_t first,
                            size_t count, float *dst);

/* Writes a seeded random permutation of 0..n-1 into perm (Fisher-Yates).
 * Returns MLP_ERR_ARG (NULL, n 0). */
mlp_status mlp_permutation(size_t *perm, size_t n, uint64_t seed);

/* Copies the rows of src (each of cols floats) listed in idx[0..count) into
 * dst, in that order; dst must not overlap src. Every index is checked
 * before anything is copied. Returns MLP_ERR_ARG (NULL, cols or count 0),
 * MLP_ERR_SHAPE (an index not below src_rows, or a size that overflows). */
mlp_status mlp_rows_gather(const float *src, size_t src_rows, size_t cols,
                           const size_t *idx, size_t count, float *dst);

/* Fits standardization on a rows x cols array: the mean and the population
 * standard deviation of each column into mean[cols] and std[cols]; a
 * constant column gets std 1 so that it maps to 0, and so does one whose
 * deviation is no more than rounding noise: a std below FLT_MIN, or at most
 * 1e-10 times the magnitude of its mean.
 * Returns MLP_ERR_ARG (NULL, rows or cols 0, a value that is not finite),
 * MLP_ERR_SHAPE (rows x cols overflows). */
mlp_status mlp_standardize_fit(const float *X, size_t rows, size_t cols, float *mean,
                               float *std);

/* Applies x <- (x - mean) / std column by column, in place.
 * Returns MLP_ERR_ARG (NULL, rows or cols 0, a mean that is not finite, a
 * std that is not finite and positive), MLP_ERR_SHAPE (rows x cols
 * overflows), MLP_ERR_NUMERIC (a result would be NaN or beyond float's
 * range; X is then left unchanged). */
mlp_status mlp_standardize_apply(float *X, size_t rows, size_t cols, const float *mean,
                                 const float *std);

/* Folds a standardization of the inputs into net's first layer, so that
 * the network takes raw rows: W' = W / std column by column and
 * b' = b - W' mean, each bias summed in double. mean and std hold n_0
 * values each, as mlp_standardize_fit makes them; the network's outputs on
 * a raw row then equal its former outputs on that row standardized, within
 * float rounding. Do it once, before saving a model trained on
 * standardized rows.
 * Returns MLP_ERR_ARG (NULL, a network without layers, a mean that is not
 * finite, a std that is not finite and positive), MLP_ERR_NUMERIC (a new
 * weight or bias would be beyond float's range; net is then unchanged). */
mlp_status mlp_standardize_fold(mlp_net *net, const float *mean, const float *std);

/* One-hot encodes n integer labels (stored as floats) into out (n x
 * n_classes). Returns MLP_ERR_ARG (NULL, n or n_classes 0, a label that is
 * not an integer in [0, n_classes)), MLP_ERR_SHAPE (n x n_classes
 * overflows). */
mlp_status mlp_one_hot(const float *labels, size_t n, size_t n_classes, float *out);

/* Metrics of predictions P against targets Y, both n x k row-major,
 * accumulated in double. mlp_accuracy: the fraction of rows whose arg max
 * (the first on ties) agrees; for k 1, whether p > 0.5 and y > 0.5 agree.
 * mlp_mse: mean over all entries of (p - y)^2. mlp_r2: 1 - SS_res / SS_tot
 * per output column, averaged over columns.
 * Return MLP_ERR_ARG (NULL, n or k 0), MLP_ERR_SHAPE (n x k overflows),
 * MLP_ERR_NUMERIC (an entry of P or Y that is NaN for mlp_accuracy, mse
 * or r2 not finite, or r2 of a constant target column, n 1 included); the
 * result is written only on success. */
mlp_status mlp_accuracy(const float *P, const float *Y, size_t n, size_t k,
                        double *accuracy);
mlp_status mlp_mse(const float *P, const float *Y, size_t n, size_t k, double *mse);
mlp_status mlp_r2(const float *P, const float *Y, size_t n, size_t k, double *r2);

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

/* Sets the number of threads OpenBLAS uses for the matrix products of every
 * network in the process (it is a process-wide OpenBLAS setting).
 * Returns MLP_ERR_ARG (n 0). */
mlp_status mlp_set_threads(size_t n);

/* Threads. libmlp has no global mutable state of its own. Separate networks
 * and optimizers may be used on separate threads at once. One network may be
 * read by several threads at once through const functions (mlp_infer,
 * mlp_net_save, mlp_net_save_buffer, mlp_optimizer_load and its buffer
 * variant, the getters), and so may one optimizer (mlp_optimizer_save and
 * its buffer variant, mlp_optimizer_lr); any function taking a
 * non-const mlp_net * (including mlp_forward and mlp_predict, which write
 * the caches) needs exclusive use of that network. mlp_set_threads changes
 * a process-wide OpenBLAS setting and should be called before threads start. */

#ifdef __cplusplus
}
#endif

#endif /* MLP_H */
