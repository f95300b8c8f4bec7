/* Status texts and the version string. */
#include "internal.h"

const char *mlp_strerror(mlp_status status)
{
    switch (status) {
    case MLP_OK:
        return "success";
    case MLP_ERR_ARG:
        return "invalid argument";
    case MLP_ERR_SHAPE:
        return "sizes do not fit together or overflow";
    case MLP_ERR_NOMEM:
        return "out of memory";
    case MLP_ERR_IO:
        return "input/output error";
    case MLP_ERR_FORMAT:
        return "invalid or corrupted file format";
    case MLP_ERR_STATE:
        return "call not valid in the current state";
    case MLP_ERR_NUMERIC:
        return "a value became NaN or infinite";
    }
    return "unknown status";
}

const char *mlp_version(void)
{
    return "0.1.0";
}
