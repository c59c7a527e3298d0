-- wrk script for scenario S1: a 16-float JSON tensor to POST /l2_loss.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "[0.5,-1.25,2,3,0.1,0.2,0.3,0.4,1.5,-2.5,3.25,4.75,-0.125,0.0625,7,8]"
