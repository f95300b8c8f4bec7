/*
 * The training loop (mlp_fit), learning-rate schedules and chunked
 * evaluation (mlp_evaluate).
 *
 * mlp_fit checks every argument and every row of data before it changes
 * anything, allocates all its buffers once at the start (batch rows, the
 * permutation, a one-step backup of the parameter block) and then runs
 * forward, backward, optional clipping and an optimizer step per batch
 * without allocating. The backup lets it undo the one step that made the
 * next loss non-finite; a step that would make a parameter non-finite the
 * optimizer refuses itself, changing nothing.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <math.h>
#include <string.h>
#include <time.h>

/* Rows per forward pass of mlp_evaluate for a network that has not run a
 * batch yet; afterwards it uses the batch capacity the network already has,
 * so that evaluation does not grow the caches. */
static const size_t eval_default_rows = 256;

static const double pi = 3.14159265358979323846;

/* ------------------------------------------------------------------------ */
/* Schedules                                                                 */
/* ------------------------------------------------------------------------ */

/* CosineAnnealingLR's closed form, held at min_lr from t_max on (PyTorch's
 * closed form would climb back up). */
static double cosine_rate(const mlp_schedule *schedule, size_t epoch)
{
    if (epoch >= schedule->t_max)
        return schedule->min_lr;
    double phase = pi * (double)epoch / (double)schedule->t_max;
    return schedule->min_lr +
           ((double)schedule->base_lr - schedule->min_lr) * (1.0 + cos(phase)) / 2.0;
}

/* The rate in double, or MLP_ERR_ARG for parameters that do not define one. */
static mlp_status schedule_rate(const mlp_schedule *schedule, size_t epoch, double *rate)
{
    switch (schedule->kind) {
    case MLP_SCHEDULE_CONSTANT:
        *rate = schedule->base_lr;
        return MLP_OK;
    case MLP_SCHEDULE_STEP:
        if (schedule->step_size == 0 || !mlp_positive_finite(schedule->gamma))
            return MLP_ERR_ARG;
        {
            size_t decays = epoch / schedule->step_size; /* whole periods only */
            *rate = schedule->base_lr * pow(schedule->gamma, (double)decays);
            return MLP_OK;
        }
    case MLP_SCHEDULE_COSINE:
        if (schedule->t_max == 0 || !mlp_positive_finite(schedule->min_lr))
            return MLP_ERR_ARG;
        *rate = cosine_rate(schedule, epoch);
        return MLP_OK;
    }
    return MLP_ERR_ARG;
}

/* Computed in double and checked after rounding to float, so a decay that
 * underflows to 0 or overflows is refused rather than handed to an
 * optimizer. */
mlp_status mlp_schedule_lr(const mlp_schedule *schedule, size_t epoch, float *lr)
{
    if (!schedule || !lr || !mlp_positive_finite(schedule->base_lr))
        return MLP_ERR_ARG;
    double rate;
    mlp_status status = schedule_rate(schedule, epoch, &rate);
    if (status != MLP_OK)
        return status;
    if (!mlp_positive_finite((float)rate))
        return MLP_ERR_ARG;
    *lr = (float)rate;
    return MLP_OK;
}

/* ------------------------------------------------------------------------ */
/* Metrics over chunks                                                       */
/* ------------------------------------------------------------------------ */

/* What the metric needs from every chunk, so predictions are never stored
 * for the whole set. ss_res has one entry per output (R2 only). */
typedef struct metric_sums {
    size_t correct;
    double squared_error;
    double *ss_res;
} metric_sums;

static bool metric_valid(mlp_metric metric)
{
    return metric == MLP_METRIC_NONE || metric == MLP_METRIC_ACCURACY ||
           metric == MLP_METRIC_MSE || metric == MLP_METRIC_R2;
}

/* Adds one chunk of m prediction rows P against targets Y to the sums. */
static void metric_add(mlp_metric metric, const float *P, const float *Y, size_t m,
                       size_t k, metric_sums *sums)
{
    if (metric == MLP_METRIC_NONE)
        return;
    for (size_t i = 0; i < m; i++) {
        const float *p = P + i * k, *y = Y + i * k;
        if (metric == MLP_METRIC_ACCURACY) {
            sums->correct += mlp_row_correct(p, y, k);
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            double residual = (double)p[j] - (double)y[j];
            if (metric == MLP_METRIC_MSE)
                sums->squared_error += residual * residual;
            else if (sums->ss_res)
                sums->ss_res[j] += residual * residual;
        }
    }
}

/* The metric of n rows from its sums; MLP_ERR_NUMERIC when it is not
 * finite. ss_tot comes from target_spread. */
static mlp_status metric_finish(mlp_metric metric, const metric_sums *sums, size_t n,
                                size_t k, const double *ss_tot, double *value)
{
    double result = NAN;
    if (metric == MLP_METRIC_ACCURACY)
        result = (double)sums->correct / (double)n;
    else if (metric == MLP_METRIC_MSE)
        result = sums->squared_error / ((double)n * (double)k);
    else if (metric == MLP_METRIC_R2 && ss_tot && sums->ss_res) {
        double r2_sum = 0.0;
        for (size_t j = 0; j < k; j++)
            r2_sum += 1.0 - sums->ss_res[j] / ss_tot[j];
        result = r2_sum / (double)k;
    }
    if (metric != MLP_METRIC_NONE && !isfinite(result))
        return MLP_ERR_NUMERIC;
    *value = result;
    return MLP_OK;
}

/* The total sum of squares of each target column into ss_tot[k], using
 * mean[k] as scratch: R2's denominator needs only Y, so it is computed
 * once, before any forward pass. A constant column is MLP_ERR_NUMERIC, as
 * in mlp_r2. */
static mlp_status target_spread(const float *Y, size_t n, size_t k, double *ss_tot,
                                double *mean)
{
    for (size_t j = 0; j < k; j++)
        mean[j] = ss_tot[j] = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            mean[j] += Y[i * k + j];
    for (size_t j = 0; j < k; j++)
        mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            double deviation = (double)Y[i * k + j] - mean[j];
            ss_tot[j] += deviation * deviation;
        }
    for (size_t j = 0; j < k; j++)
        if (!(ss_tot[j] > 0.0) || !isfinite(ss_tot[j]))
            return MLP_ERR_NUMERIC;
    return MLP_OK;
}

/* ------------------------------------------------------------------------ */
/* Evaluation                                                                */
/* ------------------------------------------------------------------------ */

/* Checks n rows of X and Y against the network before anything runs:
 * sizes that fit in memory, finite inputs, targets in the loss's domain. */
static mlp_status check_rows(const mlp_net *net, const float *X, const float *Y, size_t n)
{
    size_t n_x, n_y;
    if (mlp_mul_overflows(n, net->n_inputs, &n_x) ||
        mlp_mul_overflows(n, mlp_net_outputs(net), &n_y))
        return MLP_ERR_SHAPE;
    if (!mlp_all_finite(X, n_x))
        return MLP_ERR_ARG;
    return mlp_loss_check_targets(net->loss, Y, n, mlp_net_outputs(net));
}

/* The forward pass and loss of one chunk; a loss that is finite in double
 * but not in float counts as non-finite too. */
static mlp_status chunk_loss(mlp_net *net, const float *X, const float *Y, size_t m,
                             const float **P, float *loss)
{
    mlp_status status = mlp_forward(net, X, m, P);
    if (status == MLP_OK)
        status = mlp_loss_value(net, Y, loss);
    if (status == MLP_OK && !isfinite(*loss))
        status = MLP_ERR_NUMERIC;
    return status;
}

/* Runs n checked rows forward in chunks of the network's batch capacity,
 * straight from the caller's arrays, accumulating the size-weighted loss in
 * double and the metric's sums. ss_tot and ss_res (k entries each) are
 * needed for R2 only. Outputs are written only on success. */
static mlp_status evaluate_rows(mlp_net *net, const float *X, const float *Y, size_t n,
                                mlp_metric metric, const double *ss_tot, double *ss_res,
                                double *loss, double *metric_value)
{
    const size_t n_in = net->n_inputs, k = mlp_net_outputs(net);
    const size_t chunk = net->m_cap > 0 ? net->m_cap : eval_default_rows;
    metric_sums sums = {0, 0.0, ss_res};
    for (size_t j = 0; metric == MLP_METRIC_R2 && ss_res && j < k; j++)
        ss_res[j] = 0.0;
    double loss_sum = 0.0;
    for (size_t start = 0, m; start < n; start += m) {
        m = n - start < chunk ? n - start : chunk;
        const float *P;
        float batch_loss;
        mlp_status status =
            chunk_loss(net, X + start * n_in, Y + start * k, m, &P, &batch_loss);
        if (status != MLP_OK)
            return status;
        loss_sum += (double)batch_loss * (double)m;
        metric_add(metric, P, Y + start * k, m, k, &sums);
    }
    double value;
    mlp_status status = metric_finish(metric, &sums, n, k, ss_tot, &value);
    if (status != MLP_OK)
        return status;
    if (loss)
        *loss = loss_sum / (double)n;
    if (metric_value)
        *metric_value = value;
    return MLP_OK;
}

mlp_status mlp_evaluate(mlp_net *net, const float *X, const float *Y, size_t n,
                        mlp_metric metric, double *loss, double *metric_value)
{
    if (!net || !X || !Y || n == 0 || !metric_valid(metric))
        return MLP_ERR_ARG;
    mlp_status status = mlp_net_check_trainable(net);
    if (status == MLP_OK)
        status = check_rows(net, X, Y, n);
    if (status != MLP_OK)
        return status;
    if (!metric_value)
        metric = MLP_METRIC_NONE;
    const size_t k = mlp_net_outputs(net);
    double *work = NULL;
    if (metric == MLP_METRIC_R2) {
        if (!(work = mlp_alloc_zero(2 * k, sizeof *work)))
            return MLP_ERR_NOMEM;
        status = target_spread(Y, n, k, work, work + k);
    }
    if (status == MLP_OK)
        status = evaluate_rows(net, X, Y, n, metric, work, work ? work + k : NULL, loss,
                               metric_value);
    mlp_dealloc(work);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Training loop                                                             */
/* ------------------------------------------------------------------------ */

mlp_fit_options mlp_fit_defaults(void)
{
    mlp_fit_options options = {0};
    options.epochs = 10;
    options.batch_size = 32;
    options.shuffle_seed = 1;
    options.shuffle = 1;
    options.metric = MLP_METRIC_NONE;
    return options;
}

/* Everything one mlp_fit call owns, allocated at its start. */
typedef struct fit_run {
    mlp_net *net;
    mlp_optimizer *opt;
    const float *X, *Y;
    size_t n;
    size_t batch; /* rows per step: batch_size, at most n */
    const mlp_fit_options *options;
    mlp_rng rng;              /* draws each epoch's permutation */
    size_t *perm;             /* NULL when not shuffling */
    float *X_batch, *Y_batch; /* gathered rows; NULL when not shuffling */
    float *backup;            /* the parameters before the last step */
    bool has_backup;          /* a step was taken in this call */
    double *r2_work;          /* validation SS_tot, then SS_res; R2 only */
    struct timespec start;
} fit_run;

/* Seconds from start to now on the monotonic clock. */
static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) * 1e-9;
}

/* A validation set is either fully given (n_val > 0 and both arrays) or
 * fully absent. */
static bool validation_consistent(const mlp_fit_options *o)
{
    if (o->n_val == 0)
        return !o->X_val && !o->Y_val;
    return o->X_val && o->Y_val;
}

/* The checks on options alone. A schedule's rate is monotone in the epoch
 * (STEP) or between min_lr and base_lr (COSINE), so the first and the last
 * epoch cover every epoch. */
static mlp_status check_options(const mlp_fit_options *o)
{
    size_t end;
    if (o->epochs == 0 || o->batch_size == 0 || !metric_valid(o->metric) ||
        !isfinite(o->clip_norm) || o->clip_norm < 0.0f || !validation_consistent(o) ||
        mlp_add_overflows(o->first_epoch, o->epochs, &end))
        return MLP_ERR_ARG;
    float lr;
    mlp_status status = MLP_OK;
    if (o->schedule)
        status = mlp_schedule_lr(o->schedule, o->first_epoch, &lr);
    if (status == MLP_OK && o->schedule)
        status = mlp_schedule_lr(o->schedule, end - 1, &lr);
    return status;
}

/* Every check mlp_fit makes before changing anything, the optimizer's
 * parameter count included: the schedule sets its learning rate before the
 * first step, which would find the mismatch too late. */
static mlp_status check_fit(mlp_net *net, mlp_optimizer *opt, const float *X,
                            const float *Y, size_t n, const mlp_fit_options *o)
{
    if (!net || !opt || !X || !Y || n == 0)
        return MLP_ERR_ARG;
    mlp_status status = check_options(o);
    if (status == MLP_OK && net->n_params != opt->n_params)
        status = MLP_ERR_SHAPE;
    if (status == MLP_OK)
        status = mlp_net_check_trainable(net);
    if (status == MLP_OK)
        status = check_rows(net, X, Y, n);
    if (status == MLP_OK && o->n_val > 0)
        status = check_rows(net, o->X_val, o->Y_val, o->n_val);
    if (status == MLP_OK && (o->batch_size < n ? o->batch_size : n) > mlp_gemm_max_dim())
        status = MLP_ERR_SHAPE;
    return status;
}

/* Frees the call's buffers and discards the network's cached batch, whose
 * input may be a batch buffer freed here; the gradients stay. */
static void fit_release(fit_run *run)
{
    run->net->m = 0;
    run->net->has_delta = false;
    mlp_dealloc(run->perm);
    mlp_dealloc(run->X_batch);
    mlp_dealloc(run->Y_batch);
    mlp_dealloc(run->backup);
    mlp_dealloc(run->r2_work);
}

/* The buffers of one call; batch rows and the permutation only when
 * shuffling (otherwise batches are slices of X and Y). */
static mlp_status fit_alloc(fit_run *run)
{
    const mlp_net *net = run->net;
    const size_t k = mlp_net_outputs(net);
    /* batch <= n, and n x n_0 and n x n_L were checked not to overflow */
    const size_t n_x = run->batch * net->n_inputs, n_y = run->batch * k;
    run->backup = mlp_alloc_floats(net->n_params);
    bool ok = run->backup != NULL;
    if (run->options->shuffle) {
        run->perm = mlp_alloc_zero(run->n, sizeof *run->perm);
        run->X_batch = mlp_alloc_floats(n_x);
        run->Y_batch = mlp_alloc_floats(n_y);
        ok = ok && run->perm && run->X_batch && run->Y_batch;
    }
    if (run->options->n_val > 0 && run->options->metric == MLP_METRIC_R2) {
        run->r2_work = mlp_alloc_zero(2 * k, sizeof *run->r2_work);
        ok = ok && run->r2_work;
    }
    return ok ? MLP_OK : MLP_ERR_NOMEM;
}

/* Fills run and its buffers. R2's SS_tot of the validation targets is
 * computed here, once for all epochs. */
static mlp_status fit_setup(fit_run *run, mlp_net *net, mlp_optimizer *opt,
                            const float *X, const float *Y, size_t n,
                            const mlp_fit_options *o)
{
    *run = (fit_run){.net = net, .opt = opt, .X = X, .Y = Y, .n = n, .options = o};
    run->batch = o->batch_size < n ? o->batch_size : n;
    mlp_rng_seed(&run->rng, o->shuffle_seed);
    clock_gettime(CLOCK_MONOTONIC, &run->start);
    mlp_status status = fit_alloc(run);
    if (status == MLP_OK && o->shuffle) /* past the orders of earlier epochs */
        status = mlp_rng_skip(&run->rng, o->first_epoch);
    if (status == MLP_OK && run->r2_work) {
        size_t k = mlp_net_outputs(net);
        status = target_spread(o->Y_val, o->n_val, k, run->r2_work, run->r2_work + k);
    }
    return status;
}

/* Puts back the parameters from before the last step, which produced a
 * non-finite loss after it. */
static void undo_last_step(fit_run *run)
{
    if (run->has_backup) {
        memcpy(run->net->params, run->backup, run->net->n_params * sizeof *run->backup);
        mlp_net_params_written(run->net);
    }
}

/* The rows of the batch at position start of this epoch's order: gathered
 * into the batch buffers when shuffling, slices of X and Y otherwise. */
static mlp_status batch_rows(fit_run *run, size_t start, size_t m, const float **Xb,
                             const float **Yb)
{
    const size_t n_in = run->net->n_inputs, k = mlp_net_outputs(run->net);
    if (!run->perm) {
        *Xb = run->X + start * n_in;
        *Yb = run->Y + start * k;
        return MLP_OK;
    }
    mlp_status status =
        mlp_rows_gather(run->X, run->n, n_in, run->perm + start, m, run->X_batch);
    if (status == MLP_OK)
        status = mlp_rows_gather(run->Y, run->n, k, run->perm + start, m, run->Y_batch);
    *Xb = run->X_batch;
    *Yb = run->Y_batch;
    return status;
}

/* Forward, backward, optional clipping and one step, keeping a copy of the
 * parameters from before the step. A non-finite loss means the previous
 * step went bad, so that step is undone. A step that would make a parameter
 * non-finite needs no undo: mlp_optimizer_step refuses it whole, so the
 * parameters after a step that returned MLP_OK are finite without a pass
 * to check them. */
static mlp_status train_step(fit_run *run, const float *Xb, const float *Yb, size_t m,
                             float *loss)
{
    mlp_net *net = run->net;
    mlp_status status = mlp_net_forward_backward(net, Xb, Yb, m, loss);
    if (status == MLP_ERR_NUMERIC) /* the loss, with the last step's parameters */
        undo_last_step(run);
    if (status == MLP_OK && run->options->clip_norm > 0.0f)
        status = mlp_clip_grad_norm(net, run->options->clip_norm, NULL);
    if (status != MLP_OK)
        return status;
    memcpy(run->backup, net->params, net->n_params * sizeof *run->backup);
    status = mlp_optimizer_step(run->opt, net);
    if (status != MLP_OK)
        return status;
    run->has_backup = true;
    return MLP_OK;
}

/* One pass over the data in this epoch's order; *loss_sum receives the
 * sum of batch losses weighted by batch size. */
static mlp_status train_epoch(fit_run *run, double *loss_sum)
{
    *loss_sum = 0.0;
    for (size_t start = 0, m; start < run->n; start += m) {
        m = run->n - start < run->batch ? run->n - start : run->batch;
        const float *Xb, *Yb;
        float loss;
        mlp_status status = batch_rows(run, start, m, &Xb, &Yb);
        if (status == MLP_OK)
            status = train_step(run, Xb, Yb, m, &loss);
        if (status != MLP_OK)
            return status;
        *loss_sum += (double)loss * (double)m;
    }
    return MLP_OK;
}

/* Sets the epoch's learning rate and sample order. Each permutation is
 * seeded from the call's generator, so the orders differ between epochs
 * but repeat with the same shuffle_seed. */
static mlp_status epoch_begin(fit_run *run, size_t epoch)
{
    const mlp_fit_options *o = run->options;
    mlp_status status = MLP_OK;
    float lr;
    if (o->schedule)
        status = mlp_schedule_lr(o->schedule, epoch, &lr);
    if (status == MLP_OK && o->schedule)
        status = mlp_optimizer_set_lr(run->opt, lr);
    if (status == MLP_OK && run->perm)
        status = mlp_permutation(run->perm, run->n, mlp_rng_next(&run->rng));
    return status;
}

/* The validation loss and metric after an epoch; NaN without a validation
 * set. A non-finite result means the last step went bad: it is undone. */
static mlp_status epoch_validate(fit_run *run, mlp_epoch_info *info)
{
    const mlp_fit_options *o = run->options;
    info->val_loss = info->val_metric = NAN;
    if (o->n_val == 0)
        return MLP_OK;
    const size_t k = mlp_net_outputs(run->net);
    double *ss_tot = run->r2_work, *ss_res = run->r2_work ? run->r2_work + k : NULL;
    mlp_status status = evaluate_rows(run->net, o->X_val, o->Y_val, o->n_val, o->metric,
                                      ss_tot, ss_res, &info->val_loss, &info->val_metric);
    if (status == MLP_ERR_NUMERIC)
        undo_last_step(run);
    return status;
}

/* One epoch: schedule, shuffle, train, validate, report. *stop is set when
 * the callback asks to stop. */
static mlp_status run_epoch(fit_run *run, size_t epoch, bool *stop)
{
    mlp_epoch_info info = {.epoch = epoch};
    mlp_status status = epoch_begin(run, epoch);
    struct timespec train_start;
    clock_gettime(CLOCK_MONOTONIC, &train_start);
    double loss_sum = 0.0;
    if (status == MLP_OK)
        status = train_epoch(run, &loss_sum);
    double train_s = seconds_since(&train_start);
    if (status == MLP_OK)
        status = epoch_validate(run, &info);
    if (status != MLP_OK)
        return status;
    info.train_loss = loss_sum / (double)run->n;
    info.samples_per_s = train_s > 0.0 ? (double)run->n / train_s : 0.0;
    info.learning_rate = mlp_optimizer_lr(run->opt);
    info.elapsed_s = seconds_since(&run->start);
    const mlp_fit_options *o = run->options;
    *stop = o->callback && o->callback(&info, o->user) != 0;
    return MLP_OK;
}

mlp_status mlp_fit(mlp_net *net, mlp_optimizer *opt, const float *X, const float *Y,
                   size_t n, const mlp_fit_options *options)
{
    const mlp_fit_options defaults = mlp_fit_defaults();
    const mlp_fit_options *o = options ? options : &defaults;
    mlp_status status = check_fit(net, opt, X, Y, n, o);
    if (status != MLP_OK)
        return status;
    fit_run run;
    status = fit_setup(&run, net, opt, X, Y, n, o);
    bool stop = false;
    for (size_t e = 0; status == MLP_OK && !stop && e < o->epochs; e++)
        status = run_epoch(&run, o->first_epoch + e, &stop);
    fit_release(&run);
    return status;
}
