/*
 * Optimizer state files (docs/optimizer-format.md) and resuming training:
 * training that saves its network and optimizer, loads them back and goes
 * on takes the same steps, bit for bit, as training that never stopped,
 * for every optimizer kind, through mlp_train_batch and through mlp_fit
 * (first_epoch); the documented example's bytes; every truncation, every
 * byte flip and hand-made fields with a correct CRC are refused as
 * MLP_ERR_FORMAT without allocating; a state for another parameter count
 * is MLP_ERR_SHAPE; allocation failures are MLP_ERR_NOMEM; file errors are
 * MLP_ERR_IO. Also the generator skip that first_epoch relies on.
 *
 * mlp_alloc is wrapped at link time (-Wl,--wrap=mlp_alloc) so the tests
 * can count the library's allocations and make any one of them fail.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, mkfifo */

#include "alloc_counter.h"
#include "internal.h"
#include "test_files.h"
#include "test_util.h"

#include <sys/stat.h>

enum { HEADER = 60, CRC = 4, N_IN = 5, N_OUT = 3, M = 7 };

/* ---- the optimizers under test ---- */

typedef enum { SGD_PLAIN, SGD_MOMENTUM, SGD_NESTEROV, ADAM, ADAMW, KIND_COUNT } kind;

/* An optimizer of the given kind for net, with settings that make each
 * part of its state matter (weight decay, momentum, both moments). */
static mlp_optimizer *make_optimizer(kind k, const mlp_net *net)
{
    mlp_optimizer *opt = NULL;
    switch (k) {
    case SGD_PLAIN:
        assert_int_equal(mlp_sgd_create(&opt, net, 0.05f, 0.0f, 0.0f), MLP_OK);
        break;
    case SGD_MOMENTUM:
        assert_int_equal(mlp_sgd_create(&opt, net, 0.05f, 0.9f, 1e-3f), MLP_OK);
        break;
    case SGD_NESTEROV:
        assert_int_equal(mlp_sgd_create(&opt, net, 0.02f, 0.8f, 0.0f), MLP_OK);
        assert_int_equal(mlp_sgd_set_nesterov(opt, 1), MLP_OK);
        break;
    case ADAM:
        assert_int_equal(mlp_adam_create(&opt, net, 0.01f, 0.9f, 0.999f, 1e-8f, 1e-4f),
                         MLP_OK);
        break;
    case ADAMW:
    case KIND_COUNT:
        assert_int_equal(mlp_adamw_create(&opt, net, 0.01f, 0.85f, 0.99f, 1e-7f, 0.01f),
                         MLP_OK);
        break;
    }
    return opt;
}

/* A softmax classifier; hidden width 40 gives 363 parameters, enough for the
 * optimizer's bounded check (and the maxima a load must restore). */
static mlp_net *make_classifier(size_t hidden)
{
    const size_t widths[] = {hidden, N_OUT};
    const mlp_activation acts[] = {MLP_TANH, MLP_SOFTMAX};
    return make_net(N_IN, MLP_CROSS_ENTROPY, 11, 2, widths, acts);
}

/* Random inputs and one-hot targets, rows rows. */
static void make_data(float *X, float *Y, size_t rows, uint64_t seed)
{
    test_rng rng = {seed};
    test_fill_uniform(&rng, X, rows * N_IN, -1.0, 1.0);
    memset(Y, 0, rows * N_OUT * sizeof *Y);
    for (size_t i = 0; i < rows; i++)
        Y[i * N_OUT + test_rng_next(&rng) % N_OUT] = 1.0f;
}

static void train_steps(mlp_net *net, mlp_optimizer *opt, int steps)
{
    float X[M * N_IN], Y[M * N_OUT];
    for (int s = 0; s < steps; s++) {
        make_data(X, Y, M, 100 + (uint64_t)s);
        assert_int_equal(mlp_train_batch(net, opt, X, Y, M, NULL), MLP_OK);
    }
}

static unsigned char *save_net(const mlp_net *net, size_t *len)
{
    assert_int_equal(mlp_net_saved_size(net, len), MLP_OK);
    unsigned char *bytes = malloc(*len);
    assert_non_null(bytes);
    size_t written = 0;
    assert_int_equal(mlp_net_save_buffer(net, bytes, *len, &written), MLP_OK);
    assert_int_equal(written, *len);
    return bytes;
}

static unsigned char *save_opt(const mlp_optimizer *opt, size_t *len)
{
    assert_int_equal(mlp_optimizer_saved_size(opt, len), MLP_OK);
    unsigned char *bytes = malloc(*len);
    assert_non_null(bytes);
    size_t written = 0;
    assert_int_equal(mlp_optimizer_save_buffer(opt, bytes, *len, &written), MLP_OK);
    assert_int_equal(written, *len);
    return bytes;
}

/* ---- resuming ---- */

/* Train, save both halves, train on; load both and train the same steps:
 * the parameters, and the optimizer's saved state, come out identical. The
 * loaded optimizer also has the original's maxima for its bounded check. */
static void test_resume_matches_uninterrupted(void **state)
{
    (void)state;
    const size_t hiddens[] = {4, 40};
    for (size_t h = 0; h < 2; h++)
        for (kind k = 0; k < KIND_COUNT; k++) {
            mlp_net *net = make_classifier(hiddens[h]);
            mlp_optimizer *opt = make_optimizer(k, net);
            assert_int_equal(opt->bounded, h == 1);
            train_steps(net, opt, 5);
            size_t net_len, opt_len;
            unsigned char *net_bytes = save_net(net, &net_len);
            unsigned char *opt_bytes = save_opt(opt, &opt_len);
            const float velocity_max = opt->velocity_max, second_max = opt->second_max;
            assert_true(k == SGD_PLAIN || h == 0 || velocity_max > 0.0f);
            train_steps(net, opt, 5);

            mlp_net *net2 = NULL;
            mlp_optimizer *opt2 = NULL;
            assert_int_equal(mlp_net_load_buffer(&net2, net_bytes, net_len), MLP_OK);
            assert_int_equal(mlp_optimizer_load_buffer(&opt2, net2, opt_bytes, opt_len),
                             MLP_OK);
            size_t again_len;
            unsigned char *again = save_opt(opt2, &again_len);
            assert_int_equal(again_len, opt_len); /* one encoding per state */
            assert_memory_equal(again, opt_bytes, opt_len);
            free(again);
            assert_true(opt2->velocity_max == velocity_max);
            assert_true(opt2->second_max == second_max);
            train_steps(net2, opt2, 5);

            expect_params_equal(net2, snapshot_params(net));
            unsigned char *end1 = save_opt(opt, &opt_len);
            unsigned char *end2 = save_opt(opt2, &again_len);
            assert_memory_equal(end1, end2, opt_len);
            free(end1);
            free(end2);
            free(net_bytes);
            free(opt_bytes);
            mlp_optimizer_free(opt);
            mlp_optimizer_free(opt2);
            mlp_net_free(net);
            mlp_net_free(net2);
        }
}

/* What the callback saw; with net set, it also saves net and opt to
 * buffers after epoch save_after, as a checkpointing program would. */
typedef struct epochs_seen {
    size_t count;
    size_t epoch[8];
    float lr[8];
    const mlp_net *net;
    const mlp_optimizer *opt;
    size_t save_after;
    unsigned char *net_bytes, *opt_bytes;
    size_t net_len, opt_len;
} epochs_seen;

static int record_epoch(const mlp_epoch_info *info, void *user)
{
    epochs_seen *seen = user;
    if (seen->count < 8) {
        seen->epoch[seen->count] = info->epoch;
        seen->lr[seen->count] = info->learning_rate;
    }
    seen->count++;
    if (seen->net && info->epoch == seen->save_after) {
        seen->net_bytes = save_net(seen->net, &seen->net_len);
        seen->opt_bytes = save_opt(seen->opt, &seen->opt_len);
    }
    return 0;
}

/* mlp_fit for six epochs in one call, against three epochs, a save to
 * files, a load and three more from first_epoch 3, and against a resume
 * from the checkpoint the six-epoch call's callback took after its third
 * epoch: shuffled orders, schedule, partial last batch and clipping all
 * continue where they were. */
static void test_fit_resumes_from_first_epoch(void **state)
{
    (void)state;
    enum { N = 45 };
    static float X[N * N_IN], Y[N * N_OUT];
    make_data(X, Y, N, 5);
    const mlp_schedule schedule = {
        .kind = MLP_SCHEDULE_STEP, .base_lr = 0.01f, .step_size = 2, .gamma = 0.5f};
    mlp_fit_options o = mlp_fit_defaults();
    o.batch_size = 8;
    o.shuffle_seed = 99;
    o.schedule = &schedule;
    o.clip_norm = 1.0f;
    o.callback = record_epoch;

    mlp_net *whole = make_classifier(6);
    mlp_optimizer *whole_opt = make_optimizer(ADAM, whole);
    epochs_seen seen_whole = {.net = whole, .opt = whole_opt, .save_after = 2};
    o.user = &seen_whole;
    o.epochs = 6;
    assert_int_equal(mlp_fit(whole, whole_opt, X, Y, N, &o), MLP_OK);

    mlp_net *first = make_classifier(6);
    mlp_optimizer *first_opt = make_optimizer(ADAM, first);
    epochs_seen seen_first = {0}, seen_second = {0};
    o.user = &seen_first;
    o.epochs = 3;
    assert_int_equal(mlp_fit(first, first_opt, X, Y, N, &o), MLP_OK);
    temp_dir dir;
    temp_dir_make(&dir);
    char net_path[300], opt_path[300];
    temp_dir_file(&dir, "net.mlp", net_path, sizeof net_path);
    temp_dir_file(&dir, "opt.mlpopt", opt_path, sizeof opt_path);
    assert_int_equal(mlp_net_save(first, net_path), MLP_OK);
    assert_int_equal(mlp_optimizer_save(first_opt, opt_path), MLP_OK);

    mlp_net *second = NULL;
    mlp_optimizer *second_opt = NULL;
    assert_int_equal(mlp_net_load(&second, net_path), MLP_OK);
    assert_int_equal(mlp_optimizer_load(&second_opt, second, opt_path), MLP_OK);
    o.user = &seen_second;
    o.first_epoch = 3;
    assert_int_equal(mlp_fit(second, second_opt, X, Y, N, &o), MLP_OK);

    expect_params_equal(second, snapshot_params(whole));
    assert_int_equal(seen_second.count, 3);
    for (size_t e = 0; e < 3; e++) {
        assert_int_equal(seen_second.epoch[e], 3 + e);
        assert_true(seen_second.lr[e] == seen_whole.lr[3 + e]);
    }
    mlp_net *from_callback = NULL;
    mlp_optimizer *from_callback_opt = NULL;
    assert_int_equal(
        mlp_net_load_buffer(&from_callback, seen_whole.net_bytes, seen_whole.net_len),
        MLP_OK);
    assert_int_equal(mlp_optimizer_load_buffer(&from_callback_opt, from_callback,
                                               seen_whole.opt_bytes, seen_whole.opt_len),
                     MLP_OK);
    o.user = NULL;
    o.callback = NULL;
    assert_int_equal(mlp_fit(from_callback, from_callback_opt, X, Y, N, &o), MLP_OK);
    expect_params_equal(from_callback, snapshot_params(whole));
    mlp_optimizer_free(from_callback_opt);
    mlp_net_free(from_callback);
    free(seen_whole.net_bytes);
    free(seen_whole.opt_bytes);

    /* Without the skip the second call would replay epochs 0-2's orders. */
    mlp_net *replay = NULL;
    mlp_optimizer *replay_opt = NULL;
    assert_int_equal(mlp_net_load(&replay, net_path), MLP_OK);
    assert_int_equal(mlp_optimizer_load(&replay_opt, replay, opt_path), MLP_OK);
    o.first_epoch = 0;
    o.schedule = NULL;
    assert_int_equal(mlp_optimizer_set_lr(replay_opt, seen_whole.lr[3]), MLP_OK);
    assert_int_equal(mlp_fit(replay, replay_opt, X, Y, N, &o), MLP_OK);
    float *a = snapshot_params(replay), *b = snapshot_params(whole);
    assert_memory_not_equal(a, b, mlp_net_param_count(whole) * sizeof *a);
    free(a);
    free(b);

    temp_dir_remove(&dir);
    mlp_optimizer_free(whole_opt);
    mlp_optimizer_free(first_opt);
    mlp_optimizer_free(second_opt);
    mlp_optimizer_free(replay_opt);
    mlp_net_free(whole);
    mlp_net_free(first);
    mlp_net_free(second);
    mlp_net_free(replay);
}

/* first_epoch near SIZE_MAX is a skip of that many draws, taken in
 * logarithmic time; first_epoch + epochs past SIZE_MAX is refused. */
static void test_fit_first_epoch_limits(void **state)
{
    (void)state;
    float X[M * N_IN], Y[M * N_OUT];
    make_data(X, Y, M, 8);
    mlp_net *net = make_classifier(3);
    mlp_optimizer *opt = make_optimizer(SGD_MOMENTUM, net);
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = 1;
    o.first_epoch = SIZE_MAX - 1;
    assert_int_equal(mlp_fit(net, opt, X, Y, M, &o), MLP_OK);
    float *before = snapshot_params(net);
    o.first_epoch = SIZE_MAX;
    assert_int_equal(mlp_fit(net, opt, X, Y, M, &o), MLP_ERR_ARG);
    o.first_epoch = 5;
    o.epochs = SIZE_MAX - 4;
    assert_int_equal(mlp_fit(net, opt, X, Y, M, &o), MLP_ERR_ARG);
    expect_params_equal(net, before);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* Skipping k draws leaves the generator where k draws would, for skips
 * that step and skips that use the matrix powers; skips add up. */
static void test_rng_skip(void **state)
{
    (void)state;
    const uint64_t ks[] = {0, 1, 2, 1023, 1024, 1025, 4097, 100000};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        mlp_rng stepped, skipped;
        mlp_rng_seed(&stepped, 42 + i);
        mlp_rng_seed(&skipped, 42 + i);
        for (uint64_t s = 0; s < ks[i]; s++)
            mlp_rng_next(&stepped);
        assert_int_equal(mlp_rng_skip(&skipped, ks[i]), MLP_OK);
        assert_memory_equal(stepped.s, skipped.s, sizeof stepped.s);
    }
    const uint64_t a = ((uint64_t)1 << 40) + 3, b = ((uint64_t)1 << 62) + 12345;
    mlp_rng two_skips, one_skip;
    mlp_rng_seed(&two_skips, 7);
    mlp_rng_seed(&one_skip, 7);
    assert_int_equal(mlp_rng_skip(&two_skips, a), MLP_OK);
    assert_int_equal(mlp_rng_skip(&two_skips, b), MLP_OK);
    assert_int_equal(mlp_rng_skip(&one_skip, a + b), MLP_OK);
    assert_memory_equal(two_skips.s, one_skip.s, sizeof one_skip.s);
    /* The longest skip ends where one draw after the second longest does. */
    mlp_rng longest = one_skip, second = one_skip;
    assert_int_equal(mlp_rng_skip(&longest, UINT64_MAX), MLP_OK);
    assert_int_equal(mlp_rng_skip(&second, UINT64_MAX - 1), MLP_OK);
    mlp_rng_next(&second);
    assert_memory_equal(longest.s, second.s, sizeof second.s);
    assert_memory_not_equal(longest.s, one_skip.s, sizeof one_skip.s);
}

/* ---- the format ---- */

/* docs/optimizer-format.md's example: SGD with momentum 0.75 and rate 0.5,
 * after one step of a 1-1 identity network (w 0.5, b 0.25) on x = 1,
 * y = 0: the gradient and so the velocity are (0.75, 0.75). */
static void test_documented_example_bytes(void **state)
{
    (void)state;
    static const unsigned char expected[72] = {
        0x4D, 0x4C, 0x50, 0x4F, 0x50, 0x54, 0x00, 0x00, /* magic */
        0x01, 0x00, 0x00, 0x00,                         /* version 1 */
        0x00, 0x00, 0x00, 0x00,                         /* kind: SGD */
        0x00, 0x00, 0x00, 0x00,                         /* flags */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 2 parameters */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 1 step */
        0x00, 0x00, 0x00, 0x3F,                         /* learning rate 0.5 */
        0x00, 0x00, 0x00, 0x00,                         /* weight decay 0 */
        0x00, 0x00, 0x40, 0x3F,                         /* momentum 0.75 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* beta1, beta2 */
        0x00, 0x00, 0x00, 0x00,                         /* epsilon */
        0x00, 0x00, 0x40, 0x3F, 0x00, 0x00, 0x40, 0x3F, /* velocity 0.75, 0.75 */
        0x33, 0x4B, 0x81, 0xC4,                         /* CRC-32 */
    };
    const size_t widths[] = {1};
    const mlp_activation acts[] = {MLP_IDENTITY};
    mlp_net *net = make_net(1, MLP_MSE, 1, 1, widths, acts);
    float *W, *b;
    assert_int_equal(mlp_layer_params(net, 0, &W, &b, NULL, NULL), MLP_OK);
    W[0] = 0.5f;
    b[0] = 0.25f;
    mlp_optimizer *opt = NULL;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.5f, 0.75f, 0.0f), MLP_OK);
    const float x = 1.0f, y = 0.0f;
    assert_int_equal(mlp_train_batch(net, opt, &x, &y, 1, NULL), MLP_OK);
    size_t len;
    unsigned char *bytes = save_opt(opt, &len);
    assert_int_equal(len, sizeof expected);
    assert_int_equal(test_crc32(bytes, len - CRC), 0xC4814B33u);
    assert_memory_equal(bytes, expected, len);
    free(bytes);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* A refused load returns status, leaves *out alone and allocates nothing. */
static void expect_load_refused(const unsigned char *bytes, size_t len,
                                const mlp_net *net, mlp_status status)
{
    mlp_optimizer sentinel;
    mlp_optimizer *out = &sentinel;
    size_t before = alloc_count;
    assert_int_equal(mlp_optimizer_load_buffer(&out, net, bytes, len), status);
    assert_ptr_equal(out, &sentinel);
    assert_int_equal(alloc_count, before);
}

/* A trained state of the given kind, saved; *net_out is its network. */
static unsigned char *trained_state(kind k, mlp_net **net_out, size_t *len)
{
    *net_out = make_classifier(3);
    mlp_optimizer *opt = make_optimizer(k, *net_out);
    train_steps(*net_out, opt, 2);
    unsigned char *bytes = save_opt(opt, len);
    mlp_optimizer_free(opt);
    return bytes;
}

/* Every proper prefix, the whole with bytes after it, and every single
 * byte flipped (all bits, or the lowest) are refused. */
static void test_truncation_and_byte_flips(void **state)
{
    (void)state;
    for (kind k = 0; k < KIND_COUNT; k++) {
        mlp_net *net;
        size_t len;
        unsigned char *bytes = trained_state(k, &net, &len);
        for (size_t cut = 0; cut < len; cut++)
            expect_load_refused(bytes, cut, net, MLP_ERR_FORMAT);
        unsigned char *longer = calloc(len + 4, 1);
        assert_non_null(longer);
        memcpy(longer, bytes, len);
        expect_load_refused(longer, len + 1, net, MLP_ERR_FORMAT);
        expect_load_refused(longer, len + 4, net, MLP_ERR_FORMAT);
        free(longer);
        const unsigned char masks[] = {0xFF, 0x01};
        for (size_t m = 0; m < sizeof masks; m++)
            for (size_t i = 0; i < len; i++) {
                bytes[i] ^= masks[m];
                expect_load_refused(bytes, len, net, MLP_ERR_FORMAT);
                bytes[i] ^= masks[m];
            }
        mlp_optimizer *loaded = NULL;
        assert_int_equal(mlp_optimizer_load_buffer(&loaded, net, bytes, len), MLP_OK);
        mlp_optimizer_free(loaded);
        free(bytes);
        mlp_net_free(net);
    }
}

static void set_u32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static void set_float(unsigned char *p, float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    set_u32(p, bits);
}

/* A copy of valid with the u32 at offset set to value (a float's bits, for
 * the settings and buffers), resealed with a correct CRC, is refused. */
static void expect_field_refused(const unsigned char *valid, size_t len,
                                 const mlp_net *net, size_t offset, uint32_t value)
{
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, valid, len);
    set_u32(copy + offset, value);
    set_u32(copy + len - CRC, test_crc32(copy, len - CRC));
    expect_load_refused(copy, len, net, MLP_ERR_FORMAT);
    free(copy);
}

static uint32_t bits_of(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

/* Fields no optimizer can have, each with a valid CRC. */
static void test_resealed_bad_fields(void **state)
{
    (void)state;
    mlp_net *net;
    size_t len;
    unsigned char *sgd = trained_state(SGD_MOMENTUM, &net, &len);
    const size_t first_entry = HEADER, n_params = mlp_net_param_count(net);
    const struct {
        size_t offset;
        uint32_t value;
    } sgd_cases[] = {
        {0, 0x4F504C4E},              /* magic */
        {8, 2},                       /* version */
        {12, 3},                      /* kind */
        {16, 2},                      /* unknown flag */
        {20, 0},                      /* no parameters (size also wrong) */
        {20, (uint32_t)n_params + 1}, /* parameter count against the size */
        {24, 1},                      /* parameter count's high word */
        {36, 0},                      /* learning rate 0 */
        {36, bits_of(-0.1f)},
        {36, 0x7FC00000}, /* NaN */
        {40, bits_of(-1.0f)},
        {40, 0x7F800000}, /* infinite weight decay */
        {44, bits_of(1.0f)},
        {44, bits_of(-0.5f)},
        {48, bits_of(0.9f)},           /* a beta for SGD */
        {56, bits_of(1e-8f)},          /* an epsilon for SGD */
        {first_entry, 0x7FC00000},     /* NaN velocity */
        {first_entry + 8, 0xFF800000}, /* -infinity velocity */
    };
    for (size_t c = 0; c < sizeof sgd_cases / sizeof sgd_cases[0]; c++)
        expect_field_refused(sgd, len, net, sgd_cases[c].offset, sgd_cases[c].value);
    free(sgd);
    mlp_net_free(net);

    unsigned char *plain = trained_state(SGD_PLAIN, &net, &len);
    expect_field_refused(plain, len, net, 16, 1);          /* Nesterov without momentum */
    expect_field_refused(plain, len, net, 40, 0x80000000); /* weight decay -0 */
    expect_field_refused(plain, len, net, 44, 0x80000000); /* momentum -0 */
    free(plain);
    mlp_net_free(net);

    unsigned char *adam = trained_state(ADAM, &net, &len);
    const size_t second = HEADER + 4 * mlp_net_param_count(net);
    const struct {
        size_t offset;
        uint32_t value;
    } adam_cases[] = {
        {16, 1},                       /* Nesterov for Adam */
        {44, bits_of(0.9f)},           /* a momentum for Adam */
        {48, bits_of(1.0f)},           /* beta1 */
        {48, 0x80000000},              /* beta1 -0: not an encoding a save makes */
        {52, 0x80000000},              /* beta2 -0 */
        {52, bits_of(-0.1f)},          /* beta2 */
        {56, 0},                       /* epsilon 0 */
        {56, 0x7F800000},              /* infinite epsilon */
        {HEADER, 0x7F800000},          /* infinite first moment */
        {second, 0x7FC00000},          /* NaN second moment */
        {second + 4, bits_of(-1e-6f)}, /* negative second moment */
    };
    for (size_t c = 0; c < sizeof adam_cases / sizeof adam_cases[0]; c++)
        expect_field_refused(adam, len, net, adam_cases[c].offset, adam_cases[c].value);
    /* Resealing an unchanged copy loads: the refusals come from the fields. */
    set_u32(adam + len - CRC, test_crc32(adam, len - CRC));
    mlp_optimizer *loaded = NULL;
    assert_int_equal(mlp_optimizer_load_buffer(&loaded, net, adam, len), MLP_OK);
    mlp_optimizer_free(loaded);
    set_float(adam + second + 4, -0.0f); /* a zero second moment of either sign loads */
    set_u32(adam + len - CRC, test_crc32(adam, len - CRC));
    assert_int_equal(mlp_optimizer_load_buffer(&loaded, net, adam, len), MLP_OK);
    mlp_optimizer_free(loaded);
    free(adam);
    mlp_net_free(net);
}

/* Settings of -0, which the create functions accept, are stored as +0: an
 * optimizer made with them saves the same bytes as one made with +0 (and a
 * file holding -0 is refused, test_resealed_bad_fields). */
static void test_negative_zero_settings_encode_as_zero(void **state)
{
    (void)state;
    mlp_net *net = make_classifier(4);
    mlp_optimizer *pair[2][2];
    for (int sign = 0; sign < 2; sign++) {
        const float zero = sign ? -0.0f : 0.0f;
        assert_int_equal(mlp_sgd_create(&pair[0][sign], net, 0.1f, zero, zero), MLP_OK);
        assert_int_equal(
            mlp_adamw_create(&pair[1][sign], net, 0.1f, zero, zero, 1e-8f, zero), MLP_OK);
    }
    for (int k = 0; k < 2; k++) {
        size_t len_plus, len_minus;
        unsigned char *plus = save_opt(pair[k][0], &len_plus);
        unsigned char *minus = save_opt(pair[k][1], &len_minus);
        assert_int_equal(len_plus, len_minus);
        assert_memory_equal(plus, minus, len_plus);
        free(plus);
        free(minus);
        mlp_optimizer_free(pair[k][0]);
        mlp_optimizer_free(pair[k][1]);
    }
    mlp_net_free(net);
}

/* A step count of 2^64 - 1 (only a crafted file has one) stays there
 * after a step instead of wrapping to 0, which would restart Adam's bias
 * correction at t = 1. */
static void test_step_count_saturates(void **state)
{
    (void)state;
    mlp_net *net;
    size_t len;
    unsigned char *adam = trained_state(ADAM, &net, &len);
    set_u32(adam + 28, UINT32_MAX);
    set_u32(adam + 32, UINT32_MAX);
    set_u32(adam + len - CRC, test_crc32(adam, len - CRC));
    mlp_optimizer *loaded = NULL;
    assert_int_equal(mlp_optimizer_load_buffer(&loaded, net, adam, len), MLP_OK);
    train_steps(net, loaded, 1);
    size_t after_len;
    unsigned char *after = save_opt(loaded, &after_len);
    assert_int_equal(after_len, len);
    assert_memory_equal(after + 28, adam + 28, 8);
    free(after);
    mlp_optimizer_free(loaded);
    free(adam);
    mlp_net_free(net);
}

/* NULL arguments, a short buffer, a network without layers or with
 * another parameter count. */
static void test_refusals(void **state)
{
    (void)state;
    mlp_net *net;
    size_t len, written;
    unsigned char *bytes = trained_state(ADAMW, &net, &len);
    mlp_optimizer *opt = make_optimizer(ADAMW, net);
    mlp_optimizer *out = NULL;
    assert_int_equal(mlp_optimizer_saved_size(NULL, &len), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_saved_size(opt, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_save_buffer(NULL, bytes, len, &written), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_save_buffer(opt, NULL, len, &written), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_save_buffer(opt, bytes, len, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_save_buffer(opt, bytes, len - 1, &written),
                     MLP_ERR_SHAPE);
    assert_int_equal(mlp_optimizer_save(NULL, "/tmp/x"), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_save(opt, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_load_buffer(NULL, net, bytes, len), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_load_buffer(&out, NULL, bytes, len), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_load_buffer(&out, net, NULL, len), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_load(NULL, net, "/tmp/x"), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_load(&out, NULL, "/tmp/x"), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_load(&out, net, NULL), MLP_ERR_ARG);

    mlp_net *empty = NULL;
    assert_int_equal(mlp_net_create(&empty, N_IN, MLP_MSE, 1), MLP_OK);
    expect_load_refused(bytes, len, empty, MLP_ERR_ARG);
    mlp_net *wider = make_classifier(4);
    expect_load_refused(bytes, len, wider, MLP_ERR_SHAPE);
    assert_null(out);
    mlp_net_free(empty);
    mlp_net_free(wider);
    mlp_optimizer_free(opt);
    free(bytes);
    mlp_net_free(net);
}

/* Every allocation of a load, and of a save to a file, failing in turn:
 * MLP_ERR_NOMEM and nothing set, then success. */
static void test_allocation_failures(void **state)
{
    (void)state;
    mlp_net *net;
    size_t len;
    unsigned char *bytes = trained_state(ADAM, &net, &len);
    temp_dir dir;
    temp_dir_make(&dir);
    char path[300];
    temp_dir_file(&dir, "opt.mlpopt", path, sizeof path);
    size_t failures = 0;
    for (size_t fail = 0;; fail++) {
        alloc_count = 0;
        alloc_fail_at = fail;
        mlp_optimizer *out = NULL;
        mlp_status status = mlp_optimizer_load_buffer(&out, net, bytes, len);
        alloc_fail_at = SIZE_MAX;
        if (status == MLP_OK) {
            mlp_optimizer_free(out);
            break;
        }
        assert_int_equal(status, MLP_ERR_NOMEM);
        assert_null(out);
        failures++;
    }
    assert_true(failures >= 3); /* the optimizer and its two moments */

    mlp_optimizer *source = NULL;
    assert_int_equal(mlp_optimizer_load_buffer(&source, net, bytes, len), MLP_OK);
    assert_int_equal(mlp_optimizer_save(source, path), MLP_OK);
    for (size_t fail = 0;; fail++) {
        alloc_count = 0;
        alloc_fail_at = fail;
        mlp_optimizer *out = NULL;
        mlp_status load_status = mlp_optimizer_load(&out, net, path);
        alloc_count = 0;
        mlp_status save_status = mlp_optimizer_save(source, path);
        alloc_fail_at = SIZE_MAX;
        assert_true(save_status == MLP_OK || save_status == MLP_ERR_NOMEM);
        if (load_status == MLP_OK) {
            mlp_optimizer_free(out);
            break;
        }
        assert_int_equal(load_status, MLP_ERR_NOMEM);
        assert_null(out);
    }
    mlp_optimizer_free(source);
    size_t file_len;
    unsigned char *file_bytes = read_file(path, &file_len);
    assert_int_equal(file_len, len);
    assert_memory_equal(file_bytes, bytes, len);
    free(file_bytes);
    assert_int_equal(temp_dir_count(&dir), 1);
    temp_dir_remove(&dir);
    free(bytes);
    mlp_net_free(net);
}

/* Missing folders and files, a folder, a FIFO and a short file. */
static void test_file_errors(void **state)
{
    (void)state;
    mlp_net *net;
    size_t len;
    unsigned char *bytes = trained_state(SGD_NESTEROV, &net, &len);
    mlp_optimizer *opt = NULL;
    assert_int_equal(mlp_optimizer_load_buffer(&opt, net, bytes, len), MLP_OK);
    temp_dir dir;
    temp_dir_make(&dir);
    char path[300];
    mlp_optimizer *out = NULL;
    temp_dir_file(&dir, "missing/opt.mlpopt", path, sizeof path);
    assert_int_equal(mlp_optimizer_save(opt, path), MLP_ERR_IO);
    assert_int_equal(mlp_optimizer_load(&out, net, path), MLP_ERR_IO);
    temp_dir_file(&dir, "folder", path, sizeof path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(mlp_optimizer_load(&out, net, path), MLP_ERR_IO);
    assert_int_equal(mlp_optimizer_save(opt, path), MLP_ERR_IO);
    assert_int_equal(rmdir(path), 0);
    temp_dir_file(&dir, "fifo", path, sizeof path);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(mlp_optimizer_load(&out, net, path), MLP_ERR_IO);
    assert_int_equal(remove(path), 0);
    temp_dir_file(&dir, "short.mlpopt", path, sizeof path);
    const size_t cuts[] = {0, 10, HEADER, len - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        test_write_file(path, bytes, cuts[c]);
        assert_int_equal(mlp_optimizer_load(&out, net, path), MLP_ERR_FORMAT);
    }
    assert_int_equal(mlp_optimizer_save(opt, path), MLP_OK); /* replaces it */
    assert_int_equal(mlp_optimizer_load(&out, net, path), MLP_OK);
    size_t file_len;
    unsigned char *file_bytes = read_file(path, &file_len);
    assert_int_equal(file_len, len);
    assert_memory_equal(file_bytes, bytes, len);
    free(file_bytes);
    assert_int_equal(temp_dir_count(&dir), 1); /* no temporary file left */
    temp_dir_remove(&dir);
    mlp_optimizer_free(out);
    mlp_optimizer_free(opt);
    free(bytes);
    mlp_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_matches_uninterrupted),
        cmocka_unit_test(test_fit_resumes_from_first_epoch),
        cmocka_unit_test(test_fit_first_epoch_limits),
        cmocka_unit_test(test_rng_skip),
        cmocka_unit_test(test_documented_example_bytes),
        cmocka_unit_test(test_truncation_and_byte_flips),
        cmocka_unit_test(test_resealed_bad_fields),
        cmocka_unit_test(test_step_count_saturates),
        cmocka_unit_test(test_negative_zero_settings_encode_as_zero),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
