/*
 * Optimizers update the network's parameter block from its gradient block.
 * Both blocks are contiguous with the same layout, so every update is one
 * pass over n_params floats, whatever the number of layers. The formulas are
 * PyTorch's, so results can be compared with torch.optim step by step.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

bool mlp_sgd_settings_valid(float learning_rate, float momentum, float weight_decay)
{
    return mlp_positive_finite(learning_rate) && isfinite(weight_decay) &&
           weight_decay >= 0.0f && isfinite(momentum) && momentum >= 0.0f &&
           momentum < 1.0f;
}

bool mlp_adam_settings_valid(float learning_rate, float beta1, float beta2, float epsilon,
                             float weight_decay)
{
    return mlp_positive_finite(learning_rate) && isfinite(weight_decay) &&
           weight_decay >= 0.0f && isfinite(beta1) && beta1 >= 0.0f && beta1 < 1.0f &&
           isfinite(beta2) && beta2 >= 0.0f && beta2 < 1.0f &&
           mlp_positive_finite(epsilon);
}

/* A zero setting stored as +0 whichever sign it came with, so that an
 * optimizer's state has one encoding in a file (docs/optimizer-format.md). */
static float positive_zero(float setting)
{
    return setting + 0.0f; /* -0 + +0 is +0; any other value is unchanged */
}

/* The allocation shared by every optimizer, whose settings are checked. */
static mlp_status optimizer_new(mlp_optimizer **out, const mlp_net *net,
                                mlp_opt_kind kind, float learning_rate,
                                float weight_decay, size_t n_buffers)
{
    if (!out || !net || net->n_layers == 0)
        return MLP_ERR_ARG;
    mlp_optimizer *opt = mlp_alloc_zero(1, sizeof *opt);
    float *velocity =
        n_buffers >= 1 ? mlp_alloc_zero(net->n_params, sizeof(float)) : NULL;
    float *second = n_buffers >= 2 ? mlp_alloc_zero(net->n_params, sizeof(float)) : NULL;
    if (!opt || (n_buffers >= 1 && !velocity) || (n_buffers >= 2 && !second)) {
        mlp_dealloc(opt);
        mlp_dealloc(velocity);
        mlp_dealloc(second);
        return MLP_ERR_NOMEM;
    }
    opt->kind = kind;
    opt->n_params = net->n_params;
    opt->learning_rate = learning_rate;
    opt->weight_decay = positive_zero(weight_decay);
    opt->velocity = velocity;
    opt->second_moment = second;
    opt->bounded = net->n_params >= mlp_bounded_min_params;
    *out = opt;
    return MLP_OK;
}

mlp_status mlp_sgd_create(mlp_optimizer **out, const mlp_net *net, float learning_rate,
                          float momentum, float weight_decay)
{
    if (!mlp_sgd_settings_valid(learning_rate, momentum, weight_decay))
        return MLP_ERR_ARG;
    mlp_status status = optimizer_new(out, net, MLP_OPT_SGD, learning_rate, weight_decay,
                                      momentum > 0.0f);
    if (status == MLP_OK)
        (*out)->momentum = positive_zero(momentum);
    return status;
}

mlp_status mlp_sgd_set_nesterov(mlp_optimizer *opt, int enabled)
{
    if (!opt || opt->kind != MLP_OPT_SGD || opt->momentum == 0.0f)
        return MLP_ERR_ARG;
    opt->nesterov = enabled != 0;
    return MLP_OK;
}

static mlp_status adam_create(mlp_optimizer **out, const mlp_net *net,
                              float learning_rate, float beta1, float beta2,
                              float epsilon, float weight_decay, bool decoupled)
{
    if (!mlp_adam_settings_valid(learning_rate, beta1, beta2, epsilon, weight_decay))
        return MLP_ERR_ARG;
    mlp_status status =
        optimizer_new(out, net, MLP_OPT_ADAM, learning_rate, weight_decay, 2);
    if (status == MLP_OK) {
        (*out)->beta1 = positive_zero(beta1);
        (*out)->beta2 = positive_zero(beta2);
        (*out)->epsilon = epsilon;
        (*out)->decoupled_decay = decoupled;
    }
    return status;
}

mlp_status mlp_adam_create(mlp_optimizer **out, const mlp_net *net, float learning_rate,
                           float beta1, float beta2, float epsilon, float weight_decay)
{
    return adam_create(out, net, learning_rate, beta1, beta2, epsilon, weight_decay,
                       false);
}

mlp_status mlp_adamw_create(mlp_optimizer **out, const mlp_net *net, float learning_rate,
                            float beta1, float beta2, float epsilon, float weight_decay)
{
    return adam_create(out, net, learning_rate, beta1, beta2, epsilon, weight_decay,
                       true);
}

void mlp_optimizer_free(mlp_optimizer *opt)
{
    if (!opt)
        return;
    mlp_dealloc(opt->velocity);
    mlp_dealloc(opt->second_moment);
    mlp_dealloc(opt);
}

mlp_status mlp_optimizer_set_lr(mlp_optimizer *opt, float learning_rate)
{
    if (!opt || !mlp_positive_finite(learning_rate))
        return MLP_ERR_ARG;
    opt->learning_rate = learning_rate;
    return MLP_OK;
}

float mlp_optimizer_lr(const mlp_optimizer *opt)
{
    return opt ? opt->learning_rate : 0.0f;
}

/* SGD's hyperparameters, copied out of the optimizer so the loops below
 * keep them in registers (stores through p could otherwise alias them). */
typedef struct sgd_consts {
    float lr, wd, mu;
} sgd_consts;

static sgd_consts sgd_constants(const mlp_optimizer *opt)
{
    return (sgd_consts){
        .lr = opt->learning_rate, .wd = opt->weight_decay, .mu = opt->momentum};
}

/* torch.optim.SGD for one parameter: g = dC/dp + wd p; v = mu v + g; the
 * step direction is v, or g + mu v with Nesterov. v starts at zero, so the
 * first step sets v = g as PyTorch does; with momentum 0 no v is kept and
 * v = 0, mu = 0 make the direction g. Returns the new p, *v_new the new v. */
static inline float sgd_update(sgd_consts c, bool nesterov, float p, float grad, float v,
                               float *v_new)
{
    float g = grad + c.wd * p;
    *v_new = c.mu * v + g;
    float direction = nesterov ? g + c.mu * *v_new : *v_new;
    return p - c.lr * direction;
}

/* The two passes of an SGD step over n parameters, v NULL without momentum.
 * Each is inlined below with constant nesterov and v known NULL or not, so
 * every variant compiles to its own branch-free loop. */
static inline int sgd_any_bad(sgd_consts c, bool nesterov, const float *restrict p,
                              const float *restrict grad, const float *restrict v,
                              size_t n)
{
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        float v_new;
        bad |= mlp_not_finite(
            sgd_update(c, nesterov, p[k], grad[k], v ? v[k] : 0.0f, &v_new));
    }
    return bad;
}

/* The largest entries an update pass leaves, tracked when the optimizer
 * is bounded, so that the next step's bound can start from them instead of
 * reading the blocks (step_bounded); 0 where untracked. */
typedef struct update_maxima {
    float p;  /* largest |p| */
    float m1; /* largest |velocity|, or Adam's |m| */
    float m2; /* Adam's largest v */
} update_maxima;

/* The update pass, v NULL without momentum, tracking the maxima when
 * asked to. */
static inline update_maxima sgd_apply(sgd_consts c, bool nesterov, bool track,
                                      float *restrict p, const float *restrict grad,
                                      float *restrict v, size_t n)
{
    int32_t p_bits = 0, v_bits = 0;
    for (size_t k = 0; k < n; k++) {
        float v_new;
        p[k] = sgd_update(c, nesterov, p[k], grad[k], v ? v[k] : 0.0f, &v_new);
        if (v)
            v[k] = v_new;
        if (track) {
            p_bits = mlp_max_bits(p_bits, mlp_abs_bits(p[k]));
            v_bits = mlp_max_bits(v_bits, mlp_abs_bits(v ? v_new : 0.0f));
        }
    }
    return (update_maxima){mlp_from_abs_bits(p_bits), mlp_from_abs_bits(v_bits), 0.0f};
}

/* Whether an SGD step would keep every parameter and velocity finite;
 * reads only, so a bad step can be refused before anything changes. Checking
 * the new p alone is enough: p moves by lr times v_new (or g + mu v_new with
 * Nesterov), so a NaN or infinite v_new makes p_new NaN or infinite too. */
static inline bool sgd_step_finite(const mlp_optimizer *opt, const float *p,
                                   const float *grad)
{
    const sgd_consts c = sgd_constants(opt);
    const float *v = opt->velocity;
    const size_t n = opt->n_params;
    if (!v)
        return !sgd_any_bad(c, false, p, grad, NULL, n);
    if (opt->nesterov)
        return !sgd_any_bad(c, true, p, grad, v, n);
    return !sgd_any_bad(c, false, p, grad, v, n);
}

/* The update pass, each variant its own loop; it tracks the maxima when
 * steps are bounded. */
static MLP_ALWAYS_INLINE update_maxima sgd_step(const mlp_optimizer *opt, float *p,
                                                const float *grad)
{
    const sgd_consts c = sgd_constants(opt);
    float *v = opt->velocity;
    const size_t n = opt->n_params;
    if (!opt->bounded) {
        if (!v)
            return sgd_apply(c, false, false, p, grad, NULL, n);
        return opt->nesterov ? sgd_apply(c, true, false, p, grad, v, n)
                             : sgd_apply(c, false, false, p, grad, v, n);
    }
    if (!v)
        return sgd_apply(c, false, true, p, grad, NULL, n);
    return opt->nesterov ? sgd_apply(c, true, true, p, grad, v, n)
                         : sgd_apply(c, false, true, p, grad, v, n);
}

/* Adam's step-dependent constants: lr/(1-b1^t), sqrt(1-b2^t), and the
 * decoupled (AdamW) or coupled weight decay. */
typedef struct adam_consts {
    float b1, b2, epsilon, step_size, sqrt_bc2, decay, coupled_wd;
} adam_consts;

static adam_consts adam_constants(const mlp_optimizer *opt)
{
    const double t = (double)opt->steps + 1.0; /* no wrap at UINT64_MAX */
    const float lr = opt->learning_rate, wd = opt->weight_decay;
    return (adam_consts){
        .b1 = opt->beta1,
        .b2 = opt->beta2,
        .epsilon = opt->epsilon,
        .step_size = (float)(lr / (1.0 - pow(opt->beta1, t))),
        .sqrt_bc2 = (float)sqrt(1.0 - pow(opt->beta2, t)),
        .decay = opt->decoupled_decay ? 1.0f - lr * wd : 1.0f,
        .coupled_wd = opt->decoupled_decay ? 0.0f : wd,
    };
}

/* torch.optim.Adam / AdamW with bias correction, for one parameter:
 * m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
 * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). */
static inline float adam_update(adam_consts c, float p, float grad, float m1, float m2,
                                float *m1_new, float *m2_new)
{
    float g = grad + c.coupled_wd * p;
    *m1_new = c.b1 * m1 + (1.0f - c.b1) * g;
    *m2_new = c.b2 * m2 + (1.0f - c.b2) * g * g;
    return p * c.decay -
           c.step_size * *m1_new / (sqrtf(*m2_new) / c.sqrt_bc2 + c.epsilon);
}

static inline bool adam_step_finite(const mlp_optimizer *opt, const float *restrict p,
                                    const float *restrict grad)
{
    const adam_consts c = adam_constants(opt);
    const float *restrict m1 = opt->velocity;
    const float *restrict m2 = opt->second_moment;
    int bad = 0;
    for (size_t k = 0; k < opt->n_params; k++) {
        float m1_new, m2_new;
        float p_new = adam_update(c, p[k], grad[k], m1[k], m2[k], &m1_new, &m2_new);
        bad |= mlp_not_finite(p_new) | mlp_not_finite(m1_new) | mlp_not_finite(m2_new);
    }
    return !bad;
}

/* The update pass, tracking the maxima when asked to. */
static inline update_maxima adam_apply(adam_consts c, bool track, float *restrict p,
                                       const float *restrict grad, float *restrict m1,
                                       float *restrict m2, size_t n)
{
    int32_t p_bits = 0, m1_bits = 0, m2_bits = 0;
    for (size_t k = 0; k < n; k++) {
        p[k] = adam_update(c, p[k], grad[k], m1[k], m2[k], &m1[k], &m2[k]);
        if (track) {
            p_bits = mlp_max_bits(p_bits, mlp_abs_bits(p[k]));
            m1_bits = mlp_max_bits(m1_bits, mlp_abs_bits(m1[k]));
            m2_bits = mlp_max_bits(m2_bits, mlp_abs_bits(m2[k]));
        }
    }
    return (update_maxima){mlp_from_abs_bits(p_bits), mlp_from_abs_bits(m1_bits),
                           mlp_from_abs_bits(m2_bits)};
}

static MLP_ALWAYS_INLINE update_maxima adam_step(const mlp_optimizer *opt, float *p,
                                                 const float *grad)
{
    const adam_consts c = adam_constants(opt);
    float *m1 = opt->velocity, *m2 = opt->second_moment;
    if (opt->bounded)
        return adam_apply(c, true, p, grad, m1, m2, opt->n_params);
    return adam_apply(c, false, p, grad, m1, m2, opt->n_params);
}

void mlp_optimizer_refresh_maxima(mlp_optimizer *opt)
{
    if (!opt->bounded)
        return;
    if (opt->velocity)
        opt->velocity_max = mlp_max_abs(opt->velocity, opt->n_params);
    if (opt->second_moment)
        opt->second_max = mlp_max_abs(opt->second_moment, opt->n_params);
}

/* ---- the bound that can vouch for a step without redoing it ---- */

/* The largest |p| and |g|, each infinity when an entry is NaN or
 * infinite: one pass that reads the two blocks and does no arithmetic. */
typedef struct block_maxima {
    double p, grad;
} block_maxima;

static inline block_maxima max_abs_entries(const float *restrict p,
                                           const float *restrict grad, size_t n)
{
    int32_t p_bits = 0, g_bits = 0;
    for (size_t k = 0; k < n; k++) {
        p_bits = mlp_max_bits(p_bits, mlp_abs_bits(p[k]));
        g_bits = mlp_max_bits(g_bits, mlp_abs_bits(grad[k]));
    }
    return (block_maxima){mlp_from_abs_bits(p_bits), mlp_from_abs_bits(g_bits)};
}

/* Below this every bound keeps the float arithmetic of a step finite, with
 * room to spare for rounding: FLT_MAX is about 2^128. */
static const double bound_limit = 0x1p100;

/* SGD: |g| <= max|g| + wd max|p|, |v_new| <= mu max|v| + that, and p
 * moves by lr v_new (lr (g + mu v_new) with Nesterov). */
static inline bool sgd_bound_holds(const mlp_optimizer *opt, block_maxima m)
{
    double mu = opt->momentum;
    double g = m.grad + opt->weight_decay * m.p;
    double v = mu * opt->velocity_max + g;
    double move = opt->learning_rate * (opt->nesterov ? g + mu * v : v);
    return v < bound_limit && m.p + move < bound_limit;
}

/* Adam: |g| <= max|g| + wd max|p| (coupled decay), then the bounds of m
 * and v from their last maxima; the update's numerator lr/(1-b1^t) |m|,
 * computed before the division (an eps above 2^28 would let it overflow
 * while the quotient stays finite); and the denominator
 * sqrt(v)/sqrt(1-b2^t) + eps is at least eps, so p moves by at most that
 * numerator / eps. */
static inline bool adam_bound_holds(const mlp_optimizer *opt, block_maxima m)
{
    const adam_consts c = adam_constants(opt);
    double g = m.grad + c.coupled_wd * m.p;
    double m1 = c.b1 * (double)opt->velocity_max + (1.0 - c.b1) * g;
    double m2 = c.b2 * (double)opt->second_max + (1.0 - c.b2) * g * g;
    double numerator = c.step_size * m1;
    double move = numerator / c.epsilon;
    return m1 < bound_limit && m2 < bound_limit && numerator < bound_limit &&
           m.p * fabs((double)c.decay) + move < bound_limit;
}

static inline bool bound_holds(const mlp_optimizer *opt, block_maxima m)
{
    return opt->kind == MLP_OPT_SGD ? sgd_bound_holds(opt, m) : adam_bound_holds(opt, m);
}

/* Whether a step is sure to keep every parameter and optimizer state
 * finite, judged from the largest entries alone, where the exact check
 * reads every block and redoes the update's arithmetic. First from what
 * the network already knows, with no pass at all: the largest |p| the last
 * update left, unless writable pointers to p were handed out since
 * (mlp_layer_params), and the bound on |g| of the last backward pass
 * (network.c, gradient_bound). Then, if those cannot vouch for the step,
 * from one read of parameters and gradients. All comparisons are false for
 * NaN or infinity, so a non-finite parameter or gradient goes to the exact
 * check, which refuses the step; so does every step the bound cannot vouch
 * for. */
static inline bool step_bounded(const mlp_optimizer *opt, const mlp_net *net)
{
    if (!opt->bounded)
        return false;
    if (net->params_max_known && !net->params_exposed &&
        bound_holds(opt, (block_maxima){net->params_max, net->grad_max}))
        return true;
    return bound_holds(opt, max_abs_entries(net->params, net->grads, opt->n_params));
}

/* A step that would make any parameter or optimizer state non-finite is
 * refused as a whole: checking first leaves the last good parameters in
 * place, as SPEC.md's "never silently NaN" promise needs. From 256
 * parameters the check is usually step_bounded's, and the update pass
 * tracks the maxima that the next step's bound starts from. Compiled for
 * each vector width (MLP_VECTOR_CLONES). */
static MLP_VECTOR_CLONES bool try_step(mlp_optimizer *opt, mlp_net *net)
{
    float *p = net->params;
    const float *grad = net->grads;
    const bool sgd = opt->kind == MLP_OPT_SGD;
    if (!step_bounded(opt, net) &&
        !(sgd ? sgd_step_finite(opt, p, grad) : adam_step_finite(opt, p, grad)))
        return false;
    update_maxima m = sgd ? sgd_step(opt, p, grad) : adam_step(opt, p, grad);
    if (opt->bounded) {
        opt->velocity_max = m.m1;
        opt->second_max = m.m2;
        net->params_max = m.p;
        net->params_max_known = true;
    }
    return true;
}

mlp_status mlp_optimizer_step(mlp_optimizer *opt, mlp_net *net)
{
    if (!opt || !net)
        return MLP_ERR_ARG;
    if (net->n_params != opt->n_params)
        return MLP_ERR_SHAPE;
    if (!net->has_grads)
        return MLP_ERR_STATE;
    if (!try_step(opt, net))
        return MLP_ERR_NUMERIC;
    if (opt->steps < UINT64_MAX) /* a loaded count may be the largest */
        opt->steps++;
    return MLP_OK;
}

mlp_status mlp_train_batch(mlp_net *net, mlp_optimizer *opt, const float *X,
                           const float *Y, size_t m, float *loss)
{
    if (!opt)
        return MLP_ERR_ARG;
    if (net && net->n_params != opt->n_params)
        return MLP_ERR_SHAPE;
    mlp_status status = mlp_net_forward_backward(net, X, Y, m, loss);
    if (status == MLP_OK)
        status = mlp_optimizer_step(opt, net);
    return status;
}

/* Sum of squares in double, so the norm of a large network is exact to
 * float precision. */
static double sum_of_squares(const float *x, size_t n)
{
    double sum = 0.0;
    for (size_t k = 0; k < n; k++)
        sum += (double)x[k] * x[k];
    return sum;
}

mlp_status mlp_layer_grad_norm(const mlp_net *net, size_t layer, float *norm)
{
    if (!net || !norm || layer >= net->n_layers)
        return MLP_ERR_ARG;
    if (!net->has_grads)
        return MLP_ERR_STATE;
    const mlp_layer *L = &net->layers[layer];
    *norm = (float)sqrt(sum_of_squares(L->dW, L->n_out * L->n_in + L->n_out));
    return MLP_OK;
}

/* As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6)
 * when the global norm exceeds max_norm. */
mlp_status mlp_clip_grad_norm(mlp_net *net, float max_norm, float *total_norm)
{
    if (!net || !mlp_positive_finite(max_norm))
        return MLP_ERR_ARG;
    if (!net->has_grads)
        return MLP_ERR_STATE;
    double norm = sqrt(sum_of_squares(net->grads, net->n_params));
    if (total_norm)
        *total_norm = (float)norm;
    if (!isfinite(norm))
        return MLP_ERR_NUMERIC;
    if (norm > max_norm) {
        float scale = (float)(max_norm / (norm + 1e-6));
        for (size_t k = 0; k < net->n_params; k++)
            net->grads[k] *= scale;
    }
    return MLP_OK;
}
