/*
 * hello.c -- the smallest host program: checks that the linked library
 * serves the header it was compiled against, then asks the exact model of
 * a point set for the three targets at one point.  Build it as any host would:
 *
 *   cc hello.c $(pkg-config --cflags --libs cemdiff)
 */
#include <cemdiff.h>

#include <stdio.h>

int main(void)
{
    if (!CEM_VERSION_COMPATIBLE(cem_version_number())) {
        fprintf(stderr, "library %s does not serve header %d.%d\n", cem_version_string(),
                CEM_VERSION_MAJOR, CEM_VERSION_MINOR);
        return 1;
    }
    printf("libcemdiff %s\n", cem_version_string());

    /* four points on the unit circle, and a point off it */
    const float points[] = {1, 0, 0, 1, -1, 0, 0, -1};
    const float x[] = {0.9f, 0.2f};
    cem_model_t *model = NULL;
    if (cem_model_create_empirical(&model, points, 4, 2) != CEM_OK) {
        fprintf(stderr, "cem_model_create_empirical: %s\n", cem_last_error());
        return 1;
    }
    const char *names[] = {"f  ", "eps", "S  "};
    for (double t = 1.0; t >= 1e-3; t /= 10)
        for (int what = CEM_TARGET_CEM; what <= CEM_TARGET_SCORE; what++) {
            float out[2];
            if (cem_model_eval_at(model, (cem_target)what, 1, x, t, out) != CEM_OK) {
                fprintf(stderr, "cem_model_eval_at: %s\n", cem_model_errmsg(model));
                cem_model_free(model);
                return 1;
            }
            printf("t = %-6g %s = (% .5f, % .5f)\n", t, names[what], out[0], out[1]);
        }
    cem_model_free(model);
    return 0;
}
