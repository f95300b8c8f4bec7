/*
 * The network: a stack of dense layers whose parameters live in one
 * contiguous block (so an optimizer step is a single pass), whose gradients
 * live in a second block of the same layout, and whose batch caches Z, A and
 * delta live in one work block sized for the largest batch seen so far.
 */
#include "internal.h"
#include "layer_tiny.h"

#include <math.h>
#include <string.h>

mlp_status mlp_net_create(mlp_net **out, size_t n_inputs, mlp_loss loss, uint64_t seed)
{
    if (!out || n_inputs == 0 || !mlp_loss_valid(loss))
        return MLP_ERR_ARG;
    if (n_inputs > mlp_gemm_max_dim())
        return MLP_ERR_SHAPE;
    mlp_net *net = mlp_alloc_zero(1, sizeof *net);
    if (!net)
        return MLP_ERR_NOMEM;
    net->n_inputs = n_inputs;
    net->loss = loss;
    mlp_rng_seed(&net->rng, seed);
    *out = net;
    return MLP_OK;
}

void mlp_net_free(mlp_net *net)
{
    if (!net)
        return;
    mlp_dealloc(net->layers);
    mlp_dealloc(net->params);
    mlp_dealloc(net->grads);
    mlp_dealloc(net->work);
    mlp_dealloc(net);
}

size_t mlp_net_layers(const mlp_net *net)
{
    return net ? net->n_layers : 0;
}

size_t mlp_net_inputs(const mlp_net *net)
{
    return net ? net->n_inputs : 0;
}

/* n_L of a network that has layers. */
static size_t net_outputs(const mlp_net *net)
{
    return net->layers[net->n_layers - 1].n_out;
}

size_t mlp_net_outputs(const mlp_net *net)
{
    return net && net->n_layers ? net_outputs(net) : 0;
}

size_t mlp_net_param_count(const mlp_net *net)
{
    return net ? net->n_params : 0;
}

mlp_status mlp_net_loss(const mlp_net *net, mlp_loss *loss)
{
    if (!net || !loss)
        return MLP_ERR_ARG;
    *loss = net->loss;
    return MLP_OK;
}

mlp_status mlp_layer_activation(const mlp_net *net, size_t layer, mlp_activation *act)
{
    if (!net || !act || layer >= net->n_layers)
        return MLP_ERR_ARG;
    *act = net->layers[layer].act;
    return MLP_OK;
}

size_t mlp_net_max_width(const mlp_net *net)
{
    size_t width = 0;
    for (size_t l = 0; l < net->n_layers; l++)
        width = net->layers[l].n_out > width ? net->layers[l].n_out : width;
    return width;
}

/* Points every layer's W, b, dW, db into the parameter and gradient blocks. */
static void bind_param_views(mlp_net *net)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        mlp_layer *L = &net->layers[l];
        size_t w_count = L->n_out * L->n_in;
        L->W = net->params + L->offset;
        L->b = L->W + w_count;
        L->dW = net->grads + L->offset;
        L->db = L->dW + w_count;
    }
}

/* Points every layer's Z, A, delta into the work block, m_cap rows each. */
static void bind_work_views(mlp_net *net)
{
    float *p = net->work;
    if (!p)
        return; /* no batch yet: mlp_forward binds them when it allocates */
    for (size_t l = 0; l < net->n_layers; l++) {
        mlp_layer *L = &net->layers[l];
        size_t count = net->m_cap * L->n_out;
        L->Z = p;
        L->A = p + count;
        L->delta = p + 2 * count;
        p += 3 * count;
    }
}

/* Glorot uniform for sigmoid, tanh, identity and softmax layers; He normal
 * (with PyTorch's gain for leaky ReLU) for the ReLU family; zero biases. */
static void init_params(mlp_rng *rng, float *W, float *b, size_t n_out, size_t n_in,
                        mlp_activation act)
{
    size_t count = n_out * n_in;
    if (act == MLP_RELU || act == MLP_LEAKY_RELU) {
        double slope = act == MLP_LEAKY_RELU ? 0.01 : 0.0;
        double std = sqrt(2.0 / ((1.0 + slope * slope) * (double)n_in));
        for (size_t k = 0; k < count; k++)
            W[k] = (float)(std * mlp_rng_normal(rng));
    } else {
        double limit = sqrt(6.0 / (double)(n_in + n_out));
        for (size_t k = 0; k < count; k++)
            W[k] = (float)(limit * (2.0 * mlp_rng_uniform(rng) - 1.0));
    }
    memset(b, 0, n_out * sizeof *b);
}

/* The checks of mlp_net_add_dense for one more layer of n_out units after a
 * layer of n_in units (or the inputs) whose activation was prev_act; *count
 * grows by the layer's parameters. */
static mlp_status check_new_layer(const mlp_net *net, size_t n_in,
                                  mlp_activation prev_act, bool has_prev, size_t n_out,
                                  mlp_activation act, size_t *count)
{
    if (n_out == 0 || !mlp_activation_valid(act))
        return MLP_ERR_ARG;
    if (act == MLP_SOFTMAX && net->loss != MLP_CROSS_ENTROPY)
        return MLP_ERR_ARG;
    if (has_prev && prev_act == MLP_SOFTMAX)
        return MLP_ERR_ARG;
    size_t w_count, layer_params;
    if (n_out > mlp_gemm_max_dim() || mlp_mul_overflows(n_out, n_in, &w_count) ||
        mlp_add_overflows(w_count, n_out, &layer_params) ||
        mlp_add_overflows(*count, layer_params, count))
        return MLP_ERR_SHAPE;
    return MLP_OK;
}

/* Everything is checked and allocated before anything is changed, so a
 * failure leaves the network exactly as it was; one allocation of each block
 * for all the new layers keeps building a deep network (or loading one)
 * linear in its size. */
mlp_status mlp_net_add_layers(mlp_net *net, size_t count, const size_t *n_outputs,
                              const mlp_activation *acts)
{
    if (!net || count == 0 || !n_outputs || !acts)
        return MLP_ERR_ARG;
    size_t n_params = net->n_params, n_layers;
    size_t n_in = mlp_net_outputs(net) ? mlp_net_outputs(net) : net->n_inputs;
    bool has_prev = net->n_layers > 0;
    mlp_activation prev_act =
        has_prev ? net->layers[net->n_layers - 1].act : MLP_IDENTITY;
    for (size_t k = 0; k < count; k++) {
        mlp_status status = check_new_layer(net, n_in, prev_act, has_prev, n_outputs[k],
                                            acts[k], &n_params);
        if (status != MLP_OK)
            return status;
        n_in = n_outputs[k];
        prev_act = acts[k];
        has_prev = true;
    }
    if (mlp_add_overflows(net->n_layers, count, &n_layers) ||
        mlp_mul_overflows(n_params, sizeof(float), &(size_t){0}) ||
        mlp_mul_overflows(n_layers, sizeof(mlp_layer), &(size_t){0}))
        return MLP_ERR_SHAPE;

    /* grads is left unwritten: every read waits for has_grads, which only a
     * backward pass that has written all of it sets. Fresh pages that are
     * never written take no memory, so building a large network layer by
     * layer holds two copies of the parameters at once, not four blocks. */
    mlp_layer *layers = mlp_alloc_zero(n_layers, sizeof *layers);
    float *params = mlp_alloc_floats(n_params);
    float *grads = mlp_alloc_floats(n_params);
    if (!layers || !params || !grads) {
        mlp_dealloc(layers);
        mlp_dealloc(params);
        mlp_dealloc(grads);
        return MLP_ERR_NOMEM;
    }
    if (net->n_layers)
        memcpy(layers, net->layers, net->n_layers * sizeof *layers);
    if (net->n_params)
        memcpy(params, net->params, net->n_params * sizeof *params);
    size_t offset = net->n_params;
    n_in = mlp_net_outputs(net) ? mlp_net_outputs(net) : net->n_inputs;
    for (size_t k = 0; k < count; k++) {
        size_t n_out = n_outputs[k], w_count = n_out * n_in;
        layers[net->n_layers + k] =
            (mlp_layer){.n_in = n_in,
                        .n_out = n_out,
                        .act = acts[k],
                        .tiny_rows = mlp_dense_tiny_rows(n_in, n_out),
                        .offset = offset};
        init_params(&net->rng, params + offset, params + offset + w_count, n_out, n_in,
                    acts[k]);
        offset += w_count + n_out;
        n_in = n_out;
    }

    mlp_dealloc(net->layers);
    mlp_dealloc(net->params);
    mlp_dealloc(net->grads);
    mlp_dealloc(net->work);
    net->layers = layers;
    net->params = params;
    net->grads = grads;
    net->n_layers = n_layers;
    net->n_params = n_params;
    net->work = NULL;
    net->m_cap = 0;
    net->m = 0;
    net->X = NULL;
    net->has_delta = false;
    net->has_grads = false;
    mlp_net_params_written(net);
    net->params_exposed = false; /* views of the old block are invalid now */
    bind_param_views(net);
    bind_work_views(net);
    return MLP_OK;
}

mlp_status mlp_net_add_dense(mlp_net *net, size_t n_outputs, mlp_activation act)
{
    return mlp_net_add_layers(net, 1, &n_outputs, &act);
}

mlp_status mlp_layer_params_const(const mlp_net *net, size_t layer, const float **W,
                                  const float **b, size_t *n_out, size_t *n_in)
{
    if (!net || layer >= net->n_layers)
        return MLP_ERR_ARG;
    const mlp_layer *L = &net->layers[layer];
    if (W)
        *W = L->W;
    if (b)
        *b = L->b;
    if (n_out)
        *n_out = L->n_out;
    if (n_in)
        *n_in = L->n_in;
    return MLP_OK;
}

/* Writable views: until mlp_net_add_layers invalidates them, the network
 * does not trust the largest |p| its last update left
 * (mlp_net.params_exposed), since the caller may write through them at any
 * time. */
mlp_status mlp_layer_params(mlp_net *net, size_t layer, float **W, float **b,
                            size_t *n_out, size_t *n_in)
{
    mlp_status status = mlp_layer_params_const(net, layer, NULL, NULL, n_out, n_in);
    if (status != MLP_OK)
        return status;
    const mlp_layer *L = &net->layers[layer];
    if (W || b)
        net->params_exposed = true;
    if (W)
        *W = L->W;
    if (b)
        *b = L->b;
    return MLP_OK;
}

/* Every value is checked before any is copied, so a bad one changes
 * nothing; and the network hears of the write, which it cannot for writes
 * through views, so later steps can trust the largest |p| again once an
 * update pass has found it. memmove: W or b may be views of this layer. */
mlp_status mlp_layer_set_params(mlp_net *net, size_t layer, const float *W,
                                const float *b)
{
    if (!net || layer >= net->n_layers || (!W && !b))
        return MLP_ERR_ARG;
    mlp_layer *L = &net->layers[layer];
    const size_t w_count = L->n_out * L->n_in; /* checked when the layer was added */
    if ((W && !mlp_all_finite(W, w_count)) || (b && !mlp_all_finite(b, L->n_out)))
        return MLP_ERR_ARG;
    if (W)
        memmove(L->W, W, w_count * sizeof *W);
    if (b)
        memmove(L->b, b, L->n_out * sizeof *b);
    mlp_net_params_written(net);
    return MLP_OK;
}

/* One unit's folded weights and bias (mlp_standardize_fold): writes them
 * only when write is set, so that a first pass can check every unit before
 * a second changes any. Returns whether all are finite. */
static bool fold_unit(float *w, float *b, size_t n_in, const float *mean,
                      const float *std, bool write)
{
    double shift = 0.0;
    bool finite = true;
    for (size_t k = 0; k < n_in; k++) {
        float w_new = w[k] / std[k];
        finite &= isfinite(w_new);
        shift += (double)w_new * mean[k];
        if (write)
            w[k] = w_new;
    }
    float b_new = (float)(*b - shift);
    if (write)
        *b = b_new;
    return finite && isfinite(b_new);
}

/* Two passes over the first layer, checking then writing, so that a
 * refusal changes nothing without a copy of the layer; the network then
 * forgets its largest |p|, as for any write it does not make itself. */
mlp_status mlp_standardize_fold(mlp_net *net, const float *mean, const float *std)
{
    if (!net || !mean || !std || net->n_layers == 0)
        return MLP_ERR_ARG;
    mlp_layer *L = &net->layers[0];
    for (size_t k = 0; k < L->n_in; k++)
        if (!isfinite(mean[k]) || !mlp_positive_finite(std[k]))
            return MLP_ERR_ARG;
    for (size_t j = 0; j < L->n_out; j++)
        if (!fold_unit(L->W + j * L->n_in, L->b + j, L->n_in, mean, std, false))
            return MLP_ERR_NUMERIC;
    for (size_t j = 0; j < L->n_out; j++)
        fold_unit(L->W + j * L->n_in, L->b + j, L->n_in, mean, std, true);
    mlp_net_params_written(net);
    return MLP_OK;
}

mlp_status mlp_layer_grads(const mlp_net *net, size_t layer, const float **dW,
                           const float **db)
{
    if (!net || layer >= net->n_layers)
        return MLP_ERR_ARG;
    if (!net->has_grads)
        return MLP_ERR_STATE;
    if (dW)
        *dW = net->layers[layer].dW;
    if (db)
        *db = net->layers[layer].db;
    return MLP_OK;
}

mlp_status mlp_layer_cache(const mlp_net *net, size_t layer, const float **Z,
                           const float **A, const float **delta, size_t *m)
{
    if (!net || layer >= net->n_layers)
        return MLP_ERR_ARG;
    if (net->m == 0)
        return MLP_ERR_STATE;
    const mlp_layer *L = &net->layers[layer];
    if (Z)
        *Z = L->Z;
    if (A)
        *A = L->A;
    if (delta)
        *delta = net->has_delta ? L->delta : NULL;
    if (m)
        *m = net->m;
    return MLP_OK;
}

/* Grows the work block to hold m rows. Batches no larger than any earlier
 * one reuse it, so a training loop allocates only on its first step. */
static mlp_status reserve_batch(mlp_net *net, size_t m)
{
    if (m <= net->m_cap)
        return MLP_OK;
    size_t width_sum = 0, count;
    for (size_t l = 0; l < net->n_layers; l++)
        width_sum += net->layers[l].n_out; /* each fits in int, no overflow */
    if (mlp_mul_overflows(m, width_sum, &count) || mlp_mul_overflows(count, 3, &count))
        return MLP_ERR_SHAPE;
    float *work = mlp_alloc_floats(count);
    if (!work)
        return MLP_ERR_NOMEM;
    mlp_dealloc(net->work);
    net->work = work;
    net->m_cap = m;
    net->m = 0;
    net->has_delta = false;
    bind_work_views(net);
    return MLP_OK;
}

/* Checks the arguments shared by mlp_forward and mlp_infer; *X_max
 * receives the largest |X|, which the same read finds. */
static mlp_status check_batch(const mlp_net *net, const float *X, size_t m, float *X_max)
{
    if (!net || !X || m == 0)
        return MLP_ERR_ARG;
    mlp_status status = mlp_net_check_trainable(net);
    if (status != MLP_OK)
        return status;
    size_t count;
    if (m > mlp_gemm_max_dim() || mlp_mul_overflows(m, net->n_inputs, &count))
        return MLP_ERR_SHAPE;
    *X_max = mlp_max_abs(X, count);
    return isinf(*X_max) ? MLP_ERR_ARG : MLP_OK;
}

/* Whether layer L's forward pass takes the tiny path at batch size m. */
static bool forward_is_tiny(const mlp_layer *L, size_t m)
{
    return m <= L->tiny_rows && L->act != MLP_SOFTMAX;
}

/* The forward pass proper, on a checked batch that fits the work block;
 * X_max is its largest |X| if the caller holds X until the backward pass,
 * else infinity. Returns the output A^(L). */
static const float *forward_pass(mlp_net *net, const float *X, size_t m, float X_max)
{
    const float *A_prev = X;
    for (size_t l = 0; l < net->n_layers; l++) {
        mlp_layer *L = &net->layers[l];
        if (forward_is_tiny(L, m))
            mlp_tiny_forward(L->Z, L->A, A_prev, L->W, L->b, m, L->n_in, L->n_out,
                             L->act);
        else
            L->A_max = mlp_dense_forward_general(L->Z, L->A, A_prev, L->W, L->b, m,
                                                 L->n_in, L->n_out, L->act);
        A_prev = L->A;
    }
    net->X = X;
    net->X_max = X_max;
    net->m = m;
    net->has_delta = false;
    return A_prev;
}

mlp_status mlp_forward(mlp_net *net, const float *X, size_t m, const float **out)
{
    if (!out)
        return MLP_ERR_ARG;
    float X_max;
    mlp_status status = check_batch(net, X, m, &X_max);
    if (status == MLP_OK)
        status = reserve_batch(net, m);
    if (status == MLP_OK) /* X may change before mlp_backward: not bounded */
        *out = forward_pass(net, X, m, INFINITY);
    return status;
}

/* The batch-mean loss of the cached batch against targets Y already
 * checked; MLP_ERR_NUMERIC when it is not a finite float. */
static mlp_status cached_loss(const mlp_net *net, const float *Y, double *loss)
{
    const mlp_layer *out = &net->layers[net->n_layers - 1];
    *loss = mlp_loss_compute(net->loss, out->act, out->Z, out->A, Y, net->m, out->n_out);
    return mlp_loss_is_finite(*loss) ? MLP_OK : MLP_ERR_NUMERIC;
}

/* Whether Y is a valid target for the cached batch. */
static mlp_status check_cached_targets(const mlp_net *net, const float *Y)
{
    if (!net || !Y)
        return MLP_ERR_ARG;
    if (net->m == 0)
        return MLP_ERR_STATE;
    return mlp_loss_check_targets(net->loss, Y, net->m, net_outputs(net));
}

/* The loss of the cached batch, after checking that Y is a valid target. */
static mlp_status batch_loss(const mlp_net *net, const float *Y, double *loss)
{
    mlp_status status = check_cached_targets(net, Y);
    return status == MLP_OK ? cached_loss(net, Y, loss) : status;
}

mlp_status mlp_loss_value(const mlp_net *net, const float *Y, float *loss)
{
    double value;
    mlp_status status = batch_loss(net, Y, &value);
    if (status == MLP_OK && loss)
        *loss = (float)value;
    return status;
}

/* Batches of up to this many rows get a gradient bound: rounding in a sum
 * of m terms multiplies its size by at most (1 + 2^-24)^m, below e here. */
static const size_t bound_max_rows = (size_t)1 << 24;

/* Whether the backward pass bounds its gradients (net->grad_max), which
 * only a bounded optimizer reads. */
static bool grads_bounded(const mlp_net *net)
{
    return net->n_params >= mlp_bounded_min_params && net->m <= bound_max_rows;
}

/* The largest |A_prev| of layer l's input in the last forward pass. A tiny
 * layer's output has at most mlp_tiny_limit entries and is read here. */
static float input_max(const mlp_net *net, size_t l)
{
    if (l == 0)
        return net->X_max;
    const mlp_layer *P = &net->layers[l - 1];
    return forward_is_tiny(P, net->m) ? mlp_max_abs(P->A, net->m * P->n_out) : P->A_max;
}

/* A bound on every |dW| and |db| of layer l, given its largest |delta|, so
 * that the optimizer can vouch for a step without reading the gradients.
 * Each entry of dW = delta^T A_prev is a sum of m products of size at most
 * delta_max A_prev_max, and each of db a sum of m entries of delta; the
 * float sums, in any order, exceed that by at most a factor e
 * (bound_max_rows), which 4 covers. A tiny layer's few entries (dW then db,
 * at most 2 mlp_tiny_limit) are read instead. */
static double layer_grad_bound(const mlp_net *net, size_t l, bool tiny, float delta_max)
{
    const mlp_layer *L = &net->layers[l];
    if (tiny)
        return mlp_max_abs(L->dW, L->n_out * (L->n_in + 1));
    double a_max = fmax(input_max(net, l), 1.0);
    if (isinf(a_max) || isinf(delta_max))
        return INFINITY;
    return 4.0 * (double)net->m * delta_max * a_max;
}

/* The backward pass below the output layer, whose Delta^(L) and db are in
 * place: each layer's dW, and the delta and db of the layer before it; and
 * the bound on them all (net->grad_max) from the largest |delta| and |A| of
 * each layer, which the passes that make delta and A find as they end
 * (activation.c). */
static void backward_layers(mlp_net *net)
{
    const size_t m = net->m;
    const bool bounded = grads_bounded(net);
    const mlp_layer *top = &net->layers[net->n_layers - 1];
    float delta_max = bounded ? mlp_max_abs(top->delta, m * top->n_out) : 0.0f;
    double grad_max = 0.0;
    for (size_t l = net->n_layers; l-- > 0;) {
        mlp_layer *L = &net->layers[l];
        const float *A_prev = l > 0 ? net->layers[l - 1].A : net->X;
        const bool tiny = m <= L->tiny_rows;
        if (tiny)
            mlp_tiny_backward_params(L->dW, L->delta, A_prev, m, L->n_in, L->n_out);
        else
            mlp_dense_backward_params_general(L->dW, L->delta, A_prev, m, L->n_in,
                                              L->n_out);
        if (bounded)
            grad_max = fmax(grad_max, layer_grad_bound(net, l, tiny, delta_max));
        if (l == 0)
            break;
        mlp_layer *P = &net->layers[l - 1];
        if (tiny) {
            mlp_tiny_backward_input(P->delta, P->db, L->delta, L->W, P->Z, P->A, P->act,
                                    m, L->n_in, L->n_out);
            delta_max = bounded ? mlp_max_abs(P->delta, m * P->n_out) : 0.0f;
        } else {
            delta_max =
                mlp_dense_backward_input_general(P->delta, P->db, L->delta, L->W, P->Z,
                                                 P->A, P->act, m, L->n_in, L->n_out);
        }
    }
    net->grad_max = bounded ? grad_max : INFINITY;
    net->has_delta = true;
    net->has_grads = true;
}

/* Delta^(L) and db^(L) of the cached batch against targets Y, returning
 * its loss C. */
static double output_delta(mlp_net *net, const float *Y)
{
    mlp_layer *out = &net->layers[net->n_layers - 1];
    return mlp_loss_delta(net->loss, out->act, out->Z, out->A, Y, net->m, out->n_out,
                          out->delta, out->db);
}

/* Delta^(L), whose pass also gives the loss, then, if the loss is a finite
 * float, every layer's dW and the deltas and db below. A refused pass has
 * written only Delta^(L). */
static mlp_status backward_from_output(mlp_net *net, const float *Y, float *loss)
{
    double value = output_delta(net, Y);
    if (!mlp_loss_is_finite(value))
        return MLP_ERR_NUMERIC;
    backward_layers(net);
    if (loss)
        *loss = (float)value;
    return MLP_OK;
}

/* After a forward pass the old deltas are stale and hidden (mlp_layer_cache
 * gives NULL), so a refused pass may write Delta^(L). A second backward pass
 * on the same batch would overwrite deltas the caller can read: there the
 * loss is checked first, and so computed twice. */
mlp_status mlp_backward(mlp_net *net, const float *Y, float *loss)
{
    mlp_status status = check_cached_targets(net, Y);
    double value;
    if (status == MLP_OK && net->has_delta)
        status = cached_loss(net, Y, &value);
    if (status != MLP_OK)
        return status;
    net->X_max = INFINITY; /* X may have changed since its forward pass */
    return backward_from_output(net, Y, loss);
}

/* mlp_forward then mlp_backward, with X and Y both checked before anything
 * changes, so a bad target leaves even the cached batch as it was. */
mlp_status mlp_net_forward_backward(mlp_net *net, const float *X, const float *Y,
                                    size_t m, float *loss)
{
    if (!Y)
        return MLP_ERR_ARG;
    float X_max;
    mlp_status status = check_batch(net, X, m, &X_max);
    size_t n_out = status == MLP_OK ? net_outputs(net) : 0, count;
    if (status == MLP_OK && mlp_mul_overflows(m, n_out, &count))
        status = MLP_ERR_SHAPE; /* Y could not exist; reserve_batch would refuse too */
    if (status == MLP_OK)
        status = mlp_loss_check_targets(net->loss, Y, m, n_out);
    if (status == MLP_OK)
        status = reserve_batch(net, m);
    if (status != MLP_OK)
        return status;
    forward_pass(net, X, m, X_max); /* X is the caller's until we return */
    return backward_from_output(net, Y, loss);
}

mlp_status mlp_predict(mlp_net *net, const float *X, size_t m, float *out)
{
    if (!out)
        return MLP_ERR_ARG;
    const float *A;
    mlp_status status = mlp_forward(net, X, m, &A);
    if (status == MLP_OK)
        memcpy(out, A, m * mlp_net_outputs(net) * sizeof *out);
    return status;
}

size_t mlp_infer_workspace_size(const mlp_net *net, size_t m)
{
    size_t count;
    if (!net || net->n_layers == 0 || m == 0 ||
        mlp_mul_overflows(m, mlp_net_max_width(net), &count) ||
        mlp_mul_overflows(count, 2, &count) ||
        mlp_mul_overflows(count, sizeof(float), &(size_t){0}))
        return 0;
    return count;
}

/* Ping-pongs between two caller buffers. A general layer's product reads
 * A_prev from one and writes Z to the other, and g(Z) lands back in the
 * first, whose A_prev has been consumed. A tiny layer writes A while it
 * still reads A_prev, so its A goes to the other buffer and its Z, at most
 * mlp_tiny_limit floats, to the stack; a tiny output layer's A is copied
 * to out, which may be X. Both paths give the same bits, as in
 * mlp_forward. Nothing in net is written. */
mlp_status mlp_infer(const mlp_net *net, const float *X, size_t m, float *out,
                     float *work, size_t work_len)
{
    if (!out || !work)
        return MLP_ERR_ARG;
    float X_max;
    mlp_status status = check_batch(net, X, m, &X_max);
    if (status != MLP_OK)
        return status;
    size_t needed = mlp_infer_workspace_size(net, m);
    if (needed == 0 || work_len < needed)
        return MLP_ERR_SHAPE;

    float *half[2] = {work, work + needed / 2};
    float Z_tiny[mlp_tiny_limit]; /* m n_out <= m n_in n_out <= the limit */
    size_t prev = 1; /* the half A_prev is in; while A_prev is X, 1, so that a
                        general layer's A goes to half 1, a tiny layer's to 0 */
    const float *A_prev = X;
    for (size_t l = 0; l < net->n_layers; l++) {
        const mlp_layer *L = &net->layers[l];
        bool last = l + 1 == net->n_layers;
        if (forward_is_tiny(L, m)) {
            prev = 1 - prev;
            mlp_tiny_forward(Z_tiny, half[prev], A_prev, L->W, L->b, m, L->n_in, L->n_out,
                             L->act);
            if (last)
                memcpy(out, half[prev], m * L->n_out * sizeof *out);
            A_prev = half[prev];
        } else {
            float *A = last ? out : half[prev];
            mlp_dense_forward_general(half[1 - prev], A, A_prev, L->W, L->b, m, L->n_in,
                                      L->n_out, L->act);
            A_prev = A;
        }
    }
    return MLP_OK;
}
