/*
 * tanh_all_floats: runs every finite float through a tanh layer (one
 * input, one unit, W = 1, b = 0) with mlp_predict, a million rows per call,
 * and counts the outputs that differ from tanh in double rounded to float,
 * which mlp.h promises they never do. Not a ctest test: 4.3 billion
 * arguments take a minute or two. Built against each copy of the library
 * (tanh_all_floats_mlp, _mlp_no_avx512, _mlp_baseline), so that the
 * AVX-512, AVX2 and baseline loops are each checked; test_activation checks
 * a sample of the same in every ctest run. Exits 1 on any difference.
 */
#include "mlp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 1 << 20 };

int main(void)
{
    mlp_net *net = NULL;
    const float W = 1.0f, b = 0.0f;
    float *Z = malloc(CHUNK * sizeof *Z), *A = malloc(CHUNK * sizeof *A);
    if (!Z || !A || mlp_net_create(&net, 1, MLP_MSE, 1) != MLP_OK ||
        mlp_net_add_dense(net, 1, MLP_TANH) != MLP_OK ||
        mlp_layer_set_params(net, 0, &W, &b) != MLP_OK) {
        fprintf(stderr, "tanh_all_floats: set-up failed\n");
        return 1;
    }
    uint64_t checked = 0, wrong = 0;
    for (uint64_t first = 0; first < (uint64_t)1 << 32; first += CHUNK) {
        size_t m = 0;
        for (uint64_t bits = first; bits < first + CHUNK; bits++) {
            const uint32_t b32 = (uint32_t)bits;
            float z;
            memcpy(&z, &b32, sizeof z);
            if (isfinite(z))
                Z[m++] = z;
        }
        if (m == 0)
            continue;
        if (mlp_predict(net, Z, m, A) != MLP_OK) {
            fprintf(stderr, "tanh_all_floats: mlp_predict failed\n");
            return 1;
        }
        for (size_t i = 0; i < m; i++)
            if (A[i] != (float)tanh((double)Z[i]) && wrong++ < 10)
                printf("tanh(%a): %a, expected %a\n", Z[i], A[i],
                       (float)tanh((double)Z[i]));
        checked += m;
    }
    printf("%llu finite floats, %llu not tanh in double rounded to float\n",
           (unsigned long long)checked, (unsigned long long)wrong);
    mlp_net_free(net);
    free(Z);
    free(A);
    return wrong == 0 ? 0 : 1;
}
