#include "images/types.h"

#include <stdlib.h>

#include "images/json.h"

void nb_image_free(struct nb_image *img)
{
	free(img->ref);
	nb_strv_free(img->layers);
	nb_image_config_free(&img->config);
	*img = (struct nb_image){ 0 };
}
